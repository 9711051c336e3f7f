import {randomBytes} from 'node:crypto'
import type {IncomingMessage, ServerResponse} from 'node:http'

import {DeviceCodes} from './fake-codex-device.js'
import {authError, type Ctx, type Json, pause, Queue, Reply, send, serve} from './fake-codex-http.js'
import {ALLOWED_SCOPES, authorizeProblem, DEAD, fieldsOf, str, type TokenRequest} from './fake-codex-oauth.js'
import {
  accessTokenFor,
  CODEX_CLIENT_ID,
  codexAccount,
  type CodexAccount,
  type CodexTokens,
  type DeadReason,
  idTokenFor,
  pkceChallenge,
  TokenRegistry,
} from './fake-codex-tokens.js'
import {LoopbackServer} from './loopback-server.js'

/**
 * A fake of the OAuth server Codex CLI logs in with (issuer https://auth.openai.com; here the
 * loopback origin): the browser authorize step with PKCE (openai/codex codex-rs/login/src/server.rs),
 * the device-code login (codex-rs/login/src/device_code_auth.rs), `POST /oauth/token` for both the
 * authorization-code and the refresh-token grants, and `POST /oauth/revoke`.
 */

export type CodexAuthOptions = {
  /** Who signs in on the authorize and device pages. Default `codexAccount()` (alice@example.com, plus). */
  account?: Partial<CodexAccount>
  /** Access-token lifetime, also `expires_in`. Default 864000 (about ten days, as observed by third parties). */
  accessTtlS?: number
  /** Refreshes rotate: a new refresh token each time, the presented one is spent. Default true; false = the answer has no `refresh_token` and the old one keeps working. */
  rotate?: boolean
  /** Every `POST /oauth/token` waits this long before it is decided (counted on arrival). Default 0. */
  tokenDelayMs?: number
  /** The authorize page refuses: redirect with `error=<deny>` (e.g. 'access_denied', the user pressed Cancel). */
  deny?: string
  /** Registered callback ports. Default: any port on http://localhost/auth/callback or http://127.0.0.1/auth/callback (the real server knows only localhost:1455 and :1457). */
  redirectPorts?: number[]
  /** Status of a device-code poll that is not yet approved. Codex treats 403 and 404 alike. Default 403. */
  devicePendingStatus?: 403 | 404
  /** Approve a device code by itself after this many pending polls. Default: only `approve()` does. */
  deviceApproveAfterPolls?: number
}

export type TokenFault =
  /** Answer with this status; default body `{"error":{…,"code":"server_error"}}`. */
  | {type: 'status'; status: number; body?: unknown}
  /** 200 `application/json` whose body is cut-off JSON. */
  | {type: 'garbage'}
  /** Never answer (until the client gives up or the fake closes). */
  | {type: 'hang'}

/** Authorization codes live ten minutes. */
const CODE_TTL_S = 600

type AuthCode = {
  clientId: string
  redirectUri: string
  challenge: string
  account: CodexAccount
  exp: number
  used: boolean
}

export class CodexAuthServer {
  /** The issuer base URL (`http://127.0.0.1:PORT`), as https://auth.openai.com. */
  readonly origin: string
  /** Every `POST /oauth/token`, in arrival order. */
  readonly tokenRequests: TokenRequest[] = []
  /** The query of every `GET /oauth/authorize`. */
  readonly authorizeRequests: Array<Record<string, string>> = []
  readonly tokens = new TokenRegistry()
  readonly device: DeviceCodes

  #options: CodexAuthOptions
  readonly #http: LoopbackServer
  readonly #codes = new Map<string, AuthCode>()
  readonly #faults = new Queue<TokenFault>()
  readonly #counts = new Map<string, number>()
  readonly #onRequest: (req: IncomingMessage, res: ServerResponse) => void

  private constructor(http: LoopbackServer, options: CodexAuthOptions) {
    this.#http = http
    this.origin = http.origin
    this.#options = {...options}
    this.#onRequest = serve(http.stopping.signal, (ctx, text) => this.#route(ctx, text))
    this.device = new DeviceCodes({
      clientId: CODEX_CLIENT_ID,
      options: () => this.#options,
      issueCode: (redirectUri, challenge) => this.#newCode(CODEX_CLIENT_ID, redirectUri, challenge),
      callbackUri: `${this.origin}/deviceauth/callback`,
    })
  }

  static async start(options: CodexAuthOptions = {}): Promise<CodexAuthServer> {
    // requests reach the server only once it exists
    const fake: CodexAuthServer = new CodexAuthServer(
      await LoopbackServer.start((req, res) => fake.#onRequest(req, res)),
      options,
    )
    return fake
  }

  /** Change options at run time (merged; `undefined` restores a default). */
  set(options: Partial<CodexAuthOptions>): void {
    this.#options = {...this.#options, ...options}
  }

  /** The account that signs in (the configured one). */
  get account(): CodexAccount {
    return codexAccount(this.#options.account)
  }

  /** Number of `POST /oauth/token` requests with this `grant_type`, counted on arrival (failed ones too). */
  exchangeCount(grantType: string): number {
    return this.#counts.get(grantType) ?? 0
  }

  /** A fresh token set for `account` (default: the configured one), as a login would give. */
  issueTokens(account: Partial<CodexAccount> = this.#options.account ?? {}, accessTtlS = this.#ttl()): CodexTokens {
    const who = codexAccount(account)
    return {
      id_token: idTokenFor(who, this.origin, CODEX_CLIENT_ID),
      access_token: this.issueAccessToken(who, accessTtlS),
      refresh_token: this.tokens.addRefresh(who),
      expires_in: accessTtlS,
      account_id: who.accountId,
    }
  }

  /** A live access token for `account`, expiring in `ttlS` seconds (negative: already expired). */
  issueAccessToken(account: Partial<CodexAccount> = this.#options.account ?? {}, ttlS = this.#ttl()): string {
    const who = codexAccount(account)
    const exp = Math.floor(Date.now() / 1000) + Math.round(ttlS)
    const token = accessTokenFor(who, this.origin, CODEX_CLIENT_ID, exp)
    this.tokens.addAccess(token, {account: who, exp})
    return token
  }

  /** The refresh token stops working with the given error code (`refresh_token_expired`, `…_invalidated`, `…_reused`). */
  killRefreshToken(token: string, why: DeadReason): void {
    this.tokens.kill(token, why)
  }

  /** Queue a fault for the next `times` token requests. */
  tokenFault(fault: TokenFault, times = 1): void {
    this.#faults.push(fault, times)
  }

  /** Approve a device code as the user would on the verification page. */
  approve(userCode: string): void {
    this.device.approve(userCode)
  }

  close(): Promise<void> {
    return this.#http.close()
  }

  #ttl(): number {
    return this.#options.accessTtlS ?? 864_000
  }

  #newCode(clientId: string, redirectUri: string, challenge: string): string {
    const code = `ac_${randomBytes(24).toString('base64url')}`
    this.#codes.set(code, {
      clientId,
      redirectUri,
      challenge,
      account: this.account,
      exp: Date.now() / 1000 + CODE_TTL_S,
      used: false,
    })
    return code
  }

  async #route(ctx: Ctx, text: string): Promise<void> {
    const method = ctx.req.method ?? 'GET'
    const path = ctx.url.pathname
    if (method === 'GET' && path === '/oauth/authorize') return this.#authorize(ctx)
    if (method === 'POST' && path === '/oauth/token') return this.#token(ctx, text)
    if (method === 'POST' && path === '/oauth/revoke') return this.#revoke(ctx, text)
    if (method === 'POST' && path === '/api/accounts/deviceauth/usercode')
      return send(ctx, 200, this.device.userCode(text))
    if (method === 'POST' && path === '/api/accounts/deviceauth/token') return send(ctx, 200, this.device.poll(text))
    throw new Reply(404, {
      error: {message: `No route ${method} ${path}`, type: 'invalid_request_error', param: null, code: 'not_found'},
    })
  }

  #authorize(ctx: Ctx): void {
    const q = Object.fromEntries(ctx.url.searchParams)
    this.authorizeRequests.push(q)
    const problem = authorizeProblem(q, this.#options.redirectPorts)
    if (problem) throw new Reply(400, `Invalid authorization request: ${problem}`)
    const target = new URL(q.redirect_uri)
    if (this.#options.deny) {
      target.searchParams.set('error', this.#options.deny)
      target.searchParams.set('error_description', 'The user denied the request.')
    } else {
      target.searchParams.set('code', this.#newCode(q.client_id, q.redirect_uri, q.code_challenge))
      target.searchParams.set('scope', q.scope)
    }
    target.searchParams.set('state', q.state)
    ctx.res.writeHead(302, {location: target.toString(), 'content-length': '0'})
    ctx.res.end()
  }

  async #token(ctx: Ctx, text: string): Promise<void> {
    const {fields, format} = fieldsOf(ctx.req, text)
    const grantType = str(fields.grant_type)
    this.#counts.set(grantType, this.exchangeCount(grantType) + 1)
    const record: TokenRequest = {grantType, format, fields, status: 0, at: ctx.at}
    this.tokenRequests.push(record)
    const fault = this.#faults.take()
    if (!(await pause(ctx, this.#options.tokenDelayMs ?? 0))) return
    if (fault?.type === 'hang') return
    if (fault?.type === 'garbage') {
      record.status = 200
      ctx.res.writeHead(200, {'content-type': 'application/json'})
      ctx.res.end('{"access_token": "eyJ')
      return
    }
    if (fault?.type === 'status') {
      record.status = fault.status
      return send(
        ctx,
        fault.status,
        fault.body ?? {
          error: {
            message: 'Internal server error (fault injected by the fake auth server).',
            type: 'server_error',
            param: null,
            code: 'server_error',
          },
        },
      )
    }
    try {
      const payload =
        grantType === 'authorization_code' ? this.#codeGrant(fields) : this.#refreshGrant(grantType, fields)
      record.status = 200
      send(ctx, 200, payload)
    } catch (error) {
      if (error instanceof Reply) record.status = error.status
      throw error
    }
  }

  /** The tokens of a login. Error bodies here are not documented; they follow the refresh errors' shape. */
  #codeGrant(fields: Json): Json {
    for (const name of ['code', 'redirect_uri', 'client_id', 'code_verifier']) {
      if (str(fields[name]) === '') throw authError(400, 'invalid_request', `Missing required parameter: ${name}`)
    }
    const code = this.#codes.get(str(fields.code))
    if (!code || code.used || code.exp < Date.now() / 1000)
      throw authError(400, 'invalid_grant', 'Invalid authorization code.')
    if (code.clientId !== fields.client_id)
      throw authError(400, 'invalid_grant', 'client_id does not match the authorization request.')
    if (code.redirectUri !== fields.redirect_uri)
      throw authError(400, 'invalid_grant', 'redirect_uri does not match the authorization request.')
    if (pkceChallenge(str(fields.code_verifier)) !== code.challenge)
      throw authError(400, 'invalid_grant', 'code_verifier does not match the code_challenge.')
    code.used = true
    const tokens = this.issueTokens(code.account)
    return {
      id_token: tokens.id_token,
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      expires_in: tokens.expires_in,
    }
  }

  #refreshGrant(grantType: string, fields: Json): Json {
    if (grantType !== 'refresh_token')
      throw authError(400, 'unsupported_grant_type', `Unsupported grant_type: ${JSON.stringify(grantType)}`)
    if (fields.client_id !== CODEX_CLIENT_ID)
      throw authError(400, 'invalid_client', `Unknown client_id: ${JSON.stringify(fields.client_id ?? null)}`)
    const presented = str(fields.refresh_token)
    if (presented === '') throw authError(400, 'invalid_request', 'Missing required parameter: refresh_token')
    const scope = fields.scope
    if (scope !== undefined && (typeof scope !== 'string' || !scope.split(' ').every((s) => ALLOWED_SCOPES.has(s)))) {
      throw authError(400, 'invalid_scope', `Invalid scope: ${JSON.stringify(scope)}`)
    }
    const live = this.tokens.refresh(presented)
    if (!live.ok) {
      // The reason is known for spent, expired and invalidated tokens; an unknown one gets a made-up 401 (any 401 is final for Codex).
      if (live.why === 'unknown') throw authError(401, 'invalid_grant', 'Invalid refresh token.')
      throw authError(401, `refresh_token_${live.why}`, DEAD[live.why])
    }
    const ttl = this.#ttl()
    const payload: Json = {
      id_token: idTokenFor(live.account, this.origin, CODEX_CLIENT_ID),
      access_token: this.issueAccessToken(live.account, ttl),
    }
    if (this.#options.rotate ?? true) {
      this.tokens.kill(presented, 'reused')
      payload.refresh_token = this.tokens.addRefresh(live.account)
    }
    payload.expires_in = ttl
    return payload
  }

  /** Logout (openai/codex codex-rs/login/src/auth/revoke.rs): `{token, token_type_hint, client_id}`. */
  #revoke(ctx: Ctx, text: string): void {
    const {fields} = fieldsOf(ctx.req, text)
    const token = str(fields.token)
    if (this.tokens.refresh(token).ok) this.tokens.kill(token, 'invalidated')
    this.tokens.revokeAccess(token)
    send(ctx, 200, {})
  }
}
