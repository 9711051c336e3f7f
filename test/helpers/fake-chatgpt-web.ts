import {createHash, randomBytes, randomUUID} from 'node:crypto'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {setTimeout as sleep} from 'node:timers/promises'

import {
  type Ending,
  type ScriptedEvent,
  type WebCitation,
  type WebFormat,
  type WebShape,
  answerEvents,
  lastUserMessage,
} from './fake-chatgpt-web-stream.js'
import {fakeJwt} from './jwt.js'
import {LoopbackServer} from './loopback-server.js'

export {
  THINKING,
  citationsOf,
  markSegments,
  sseEvents,
  type ScriptedEvent,
  type WebCitation,
  type WebFormat,
  type WebShape,
} from './fake-chatgpt-web-stream.js'

/**
 * A fake ChatGPT web backend plus its auth server for tests: `node:http` on 127.0.0.1, port 0.
 * Serves `POST /backend-api/conversation` (SSE in the cumulative format — whole text so far in
 * every `message` — or the patch/delta format, plus today's shapes on request: see
 * fake-chatgpt-web-stream.ts), `GET /backend-api/models`, `POST /oauth/token` (the iOS app's
 * refresh-token grant) and `POST /auth/refresh_token` (a proxy's refresh endpoint, Bearer refresh
 * token). Access tokens are unsigned JWTs the fake issued itself;
 * refresh tokens are opaque `rt_…` strings. Records conversations and token exchanges, counts
 * in-flight conversations per account and injects queued faults and scripted streams.
 */

export type FakeWebOptions = {
  /** Default 'cumulative'. */
  format?: WebFormat
  /** Delay between SSE events (also before `[DONE]`), read before each event. Default 0. */
  chunkDelayMs?: number
  /** Lifetime (seconds) of access tokens issued by exchanges and by `issueAccessToken` without `ttlS`; also the `expires_in` of exchanges. Default 3600. */
  accessTtlS?: number
  /** Exchanges rotate the refresh token (the presented one stops working at that moment). Default true. */
  rotate?: boolean
  /** Answer text. Default: `Web answer to: <text of the last user message>` (`defaultWebAnswer`). */
  answer?: (userText: string, body: Record<string, unknown>) => string
  /** Segments the answer is streamed in; the streamed text is `split(answer).join('')`. Default: `splitWords`. */
  split?: (text: string) => string[]
  /**
   * Citation targets by mark number. When set, every assistant message gets
   * `metadata.citations[]` entries (`{start_ix, end_ix, citation_format_type, metadata: {type,
   * title, url, text, pub_date, extra: {cited_message_idx, search_result_idx, evidence_text}}}`,
   * code-point offsets) for each complete mark `【n†source】` / `【n†来源】` of the text so far whose
   * `n` is a key here. Cumulative: in every message event; patch: in the final `/message/metadata`
   * append. Unset (default): no `citations` key at all.
   */
  citations?: Record<number, WebCitation>
  /** Shapes of today's backend on top of the format (see `WebShape`; they combine). Default none. */
  shapes?: WebShape[]
}

export type WebFault =
  /** Reply with this status instead of a stream. Default body: `{"detail": …}`, or for 403 a Cloudflare-like HTML challenge page. A string body is sent verbatim (text/html when it starts with `<`, else text/plain). */
  | {type: 'status'; status: number; body?: unknown; headers?: Record<string, string>}
  /** 200 stream: send `afterEvents` SSE events (each `data:` block, with its `event:` line if any, counts one), then destroy the socket; never `[DONE]`. */
  | {type: 'die-mid-stream'; afterEvents: number}
  /** 200 stream: `data: {"message": null, "conversation_id": …, "error": message}` then `data: [DONE]`. */
  | {type: 'error-event'; message: string}
  /** 200 stream: the answer's first `afterSegments` segments (default 1), then an in-band error (`error_code` when `code` is set; patch: wrapped in `v`), then `[DONE]`. */
  | {type: 'error-after-text'; message: string; code?: string; afterSegments?: number}
  /** 200 stream: the answer's first `afterSegments` segments (default 1), a `moderation` event with `blocked: true`, then the rest of the answer as usual. */
  | {type: 'moderation'; afterSegments?: number}
  /** 200 stream: the echo (if any), then `{"type": "stream_handoff", …}` and `[DONE]`: the answer moved to a websocket. */
  | {type: 'handoff'}

/** The HTTP errors of today's backend and the proxies in front of it, as status faults. */
export type WebHttpError =
  'challenge' | 'unusual-activity' | 'model-cap' | 'too-long' | 'token-invalidated' | 'token-expired' | 'deactivated'

/** A status fault with the body (and headers) the real backend sends for `kind`; `clearsInS` for 'model-cap' (default 252). No Retry-After anywhere. */
export function webHttpFault(kind: WebHttpError, options: {clearsInS?: number} = {}): WebFault {
  switch (kind) {
    case 'challenge':
      return {type: 'status', status: 403, body: CLOUDFLARE_HTML, headers: {'cf-mitigated': 'challenge'}}
    case 'unusual-activity':
      return {
        type: 'status',
        status: 403,
        body: {detail: 'Unusual activity has been detected from your device. Try again later. (8f1e2d3c4b5a6978-AMS)'},
      }
    case 'model-cap':
      return {
        type: 'status',
        status: 429,
        body: {
          detail: {
            clears_in: options.clearsInS ?? 252,
            code: 'model_cap_exceeded',
            message: 'You have sent too many messages to the model. Please try again later.',
          },
        },
      }
    case 'too-long':
      return {
        type: 'status',
        status: 413,
        body: {
          detail: {
            message:
              'The message you submitted was too long, please reload the conversation and submit something shorter.',
            code: 'message_length_exceeds_limit',
          },
        },
      }
    case 'token-invalidated':
      return {
        type: 'status',
        status: 401,
        body: {
          detail: {
            message: 'Your authentication token has been invalidated. Please try signing in again.',
            code: 'token_invalidated',
          },
        },
      }
    case 'token-expired':
      return {
        type: 'status',
        status: 401,
        body: {
          detail: {
            message: 'Provided authentication token is expired. Please try signing in again.',
            code: 'token_expired',
          },
        },
      }
    case 'deactivated':
      return {
        type: 'status',
        status: 401,
        body: {
          detail: {
            message: 'Your OpenAI account has been deactivated, please check your email for more information.',
            code: 'account_deactivated',
          },
        },
      }
  }
}

/** A status fault for the next token exchange(s) (`/oauth/token` or `/auth/refresh_token`); see `WebFault` 'status' for bodies. */
export type AuthFault =
  {type: 'status'; status: number; body?: unknown; headers?: Record<string, string>} | {type: 'hang'}

export type RecordedConversation = {
  account: string
  body: Record<string, unknown>
  headers: Record<string, string | string[] | undefined>
  at: number
}

export type RecordedExchange = {
  style: 'oauth' | 'refresh-endpoint'
  body: unknown
  refreshToken: string
  ok: boolean
  at: number
}

/** Slugs served by `GET /backend-api/models`. */
export const WEB_MODEL_SLUGS = ['auto', 'gpt-5-2', 'gpt-5-2-thinking', 'gpt-4-1', 'gpt-4o', 'gpt-4o-mini', 'o3']

/** The `[DONE]` terminator as a scripted event (scripts get no automatic `[DONE]`). */
export const DONE: ScriptedEvent = {data: '[DONE]'}

/** `client_id`/`azp` of the ChatGPT iOS app; any client_id is accepted. */
export const IOS_CLIENT_ID = 'pdlLIX2Y72MIl2rhLhTE9VV9bN905kBh'

export const PROFILE_CLAIM = 'https://api.openai.com/profile'
export const AUTH_CLAIM = 'https://api.openai.com/auth'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i
const UUID_ANY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const ROLES = ['user', 'assistant', 'system', 'critic', 'tool']

const CLOUDFLARE_HTML =
  '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body><div id="challenge-stage">Checking if the site connection is secure</div><noscript>Enable JavaScript and cookies to continue</noscript></body></html>'

type Json = Record<string, unknown>
type Queued<T> = {account: string; item: T; remaining: number}
type Ctx = {req: IncomingMessage; res: ServerResponse; at: number; signal: AbortSignal}
type Auth = {ok: true; account: string} | {ok: false; detail: string}

class DetailError extends Error {
  constructor(
    readonly status: number,
    readonly payload: unknown,
  ) {
    super(typeof payload === 'string' ? payload : JSON.stringify(payload))
  }
}

const detail = (status: number, message: string) => new DetailError(status, {detail: message})
const oauthError = (error: string, description: string) => new DetailError(400, {error, error_description: description})

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function hex(account: string, salt: string): string {
  return createHash('sha256').update(`${salt}:${account}`).digest('hex')
}

/** Deterministic `chatgpt_account_id` (UUID-shaped) of an account email. */
export function webAccountId(account: string): string {
  const h = hex(account, 'account')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/** Deterministic `user_id` (`user-…`) of an account email. */
export function webUserId(account: string): string {
  return `user-${hex(account, 'user').slice(0, 24)}`
}

export function defaultWebAnswer(userText: string): string {
  return `Web answer to: ${userText}`
}

/** Words, each with the whitespace after it (leading whitespace goes with the first); `join('')` gives `text` back. */
export function splitWords(text: string): string[] {
  const segments = text.match(/\s*\S+\s*/g) ?? []
  return segments.length === 0 && text !== '' ? [text] : [...segments]
}

/** Text of the last message whose `author.role` is `user` (parts that are strings, joined by ''). */
export function lastUserText(body: Record<string, unknown>): string {
  const message = lastUserMessage(body)
  return message ? message.parts.filter((p): p is string => typeof p === 'string').join('') : ''
}

/** The checks of a conversation request body; returns a 400 `detail` message or undefined. */
function shapeProblem(body: Json): string | undefined {
  if (body.action !== 'next') return `action: expected "next", got ${JSON.stringify(body.action)}`
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: expected a non-empty array'
  for (const [i, m] of body.messages.entries()) {
    const at = `messages[${i}]`
    if (!isRecord(m)) return `${at}: expected an object`
    if (typeof m.id !== 'string' || !UUID_V4.test(m.id))
      return `${at}.id: expected a UUID v4 string, got ${JSON.stringify(m.id)}`
    if (!isRecord(m.author) || typeof m.author.role !== 'string') return `${at}.author.role: expected a string`
    if (!ROLES.includes(m.author.role))
      return `${at}.author.role: expected one of ${ROLES.join(', ')}, got ${JSON.stringify(m.author.role)}`
    if (!isRecord(m.content)) return `${at}.content: expected an object`
    if (m.content.content_type !== 'text')
      return `${at}.content.content_type: expected "text", got ${JSON.stringify(m.content.content_type)}`
    const parts = m.content.parts
    if (!Array.isArray(parts) || parts.length === 0 || !parts.every((p) => typeof p === 'string'))
      return `${at}.content.parts: expected a non-empty array of strings`
    if (m.metadata !== undefined && !isRecord(m.metadata)) return `${at}.metadata: expected an object`
  }
  if (typeof body.parent_message_id !== 'string' || !UUID_ANY.test(body.parent_message_id))
    return `parent_message_id: expected a UUID string, got ${JSON.stringify(body.parent_message_id)}`
  if (typeof body.model !== 'string' || body.model === '') return 'model: expected a non-empty string'
  if (body.conversation_id !== undefined && body.conversation_id !== null && typeof body.conversation_id !== 'string')
    return 'conversation_id: expected a string or null'
  if (body.history_and_training_disabled !== undefined && typeof body.history_and_training_disabled !== 'boolean')
    return 'history_and_training_disabled: expected a boolean'
  return undefined
}

function endingOf(fault: WebFault | undefined): Ending | undefined {
  if (fault?.type === 'handoff') return {kind: 'handoff'}
  if (fault?.type === 'moderation') return {kind: 'moderation', after: fault.afterSegments ?? 1}
  if (fault?.type === 'error-after-text')
    return {kind: 'error', after: fault.afterSegments ?? 1, message: fault.message, code: fault.code}
  return undefined
}

function frame(event: ScriptedEvent): string {
  let out = ''
  if (event.event !== undefined) out += `event: ${event.event}\n`
  if (event.data !== undefined)
    out += `data: ${typeof event.data === 'string' ? event.data : JSON.stringify(event.data)}\n`
  return `${out}\n`
}

function take<T>(queue: Array<Queued<T>>, account: string): T | undefined {
  const i = queue.findIndex((q) => q.account === account || q.account === '*')
  if (i === -1) return undefined
  const queued = queue[i]
  queued.remaining -= 1
  if (queued.remaining <= 0) queue.splice(i, 1)
  return queued.item
}

function bearer(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
  return match ? match[1] : undefined
}

function nowS(): number {
  return Math.floor(Date.now() / 1000)
}

export class FakeChatGPTWeb {
  /** `http://127.0.0.1:PORT` — the upstream base URL; the paths are appended to it. */
  readonly origin: string
  /** Accepted conversation requests (valid token and body shape), faulted ones included, in arrival order. */
  readonly conversations: RecordedConversation[] = []
  /** Every request to `/oauth/token` and `/auth/refresh_token`, with the refresh token presented ('' if none) and the outcome. */
  readonly exchanges: RecordedExchange[] = []

  private options: FakeWebOptions
  private readonly faults: Array<Queued<WebFault>> = []
  private readonly scripts: Array<Queued<ScriptedEvent[]>> = []
  private readonly authFaults: Array<Queued<AuthFault>> = []
  private readonly accessTokens = new Map<string, {account: string; exp: number}>()
  private readonly refreshTokens = new Map<string, string>()
  private readonly spent = new Set<string>()
  private readonly revoked = new Set<string>()
  private readonly current = new Map<string, number>()
  private readonly highest = new Map<string, number>()

  private constructor(
    private readonly http: LoopbackServer,
    options: FakeWebOptions,
  ) {
    this.origin = http.origin
    this.options = {...options}
  }

  static async start(options: FakeWebOptions = {}): Promise<FakeChatGPTWeb> {
    // requests reach the server only once it exists
    const fake: FakeChatGPTWeb = new FakeChatGPTWeb(
      await LoopbackServer.start((req, res) => fake.onRequest(req, res)),
      options,
    )
    return fake
  }

  /** Change options at run time (merged into the current ones; `undefined` values restore defaults). */
  set(options: Partial<FakeWebOptions>): void {
    this.options = {...this.options, ...options}
  }

  /** A new valid refresh token (`rt_…`, not a JWT) for `account` (an email). */
  issueRefreshToken(account: string): string {
    const token = `rt_${randomBytes(24).toString('base64url')}`
    this.refreshTokens.set(token, account)
    return token
  }

  /** A valid access token (unsigned JWT with the profile and auth claims of a real one) for `account`, expiring in `ttlS` seconds (default `accessTtlS`; negative = already expired). */
  issueAccessToken(account: string, ttlS: number = this.ttl()): string {
    const iat = nowS()
    const exp = iat + Math.round(ttlS)
    const token = fakeJwt({
      [PROFILE_CLAIM]: {email: account, email_verified: true},
      [AUTH_CLAIM]: {
        user_id: webUserId(account),
        chatgpt_account_id: webAccountId(account),
        chatgpt_plan_type: 'plus',
        chatgpt_user_id: webUserId(account),
      },
      iss: 'https://auth0.openai.com/',
      sub: `auth0|${hex(account, 'sub').slice(0, 24)}`,
      aud: ['https://api.openai.com/v1', 'https://openai.openai.auth0app.com/userinfo'],
      iat,
      exp,
      azp: IOS_CLIENT_ID,
      scope: 'openid email profile model.read model.request organization.read offline_access',
      jti: randomUUID(),
    })
    this.accessTokens.set(token, {account, exp})
    return token
  }

  /** The access or refresh token stops working (unknown tokens: no effect). */
  revoke(token: string): void {
    if (this.accessTokens.has(token) || this.refreshTokens.has(token) || this.spent.has(token)) {
      this.revoked.add(token)
      this.refreshTokens.delete(token)
    }
  }

  /** Conversation requests of `account` now in progress ('*' = all accounts). */
  inFlight(account: string): number {
    return this.current.get(account) ?? 0
  }

  /** The highest number of simultaneous conversation requests seen for `account` ('*' = all accounts together). */
  maxInFlight(account: string): number {
    return this.highest.get(account) ?? 0
  }

  /** Queue a fault for the next `times` accepted conversation requests of `account` ('*' = any); first queued, first used. */
  fault(account: string, fault: WebFault, times = 1): void {
    if (!(times > 0)) throw new Error(`fault(): times must be > 0, got ${times}`)
    this.faults.push({account, item: fault, remaining: times})
  }

  /** Queue a status fault for the next `times` token exchanges (either style). */
  authFault(fault: AuthFault, times = 1): void {
    if (!(times > 0)) throw new Error(`authFault(): times must be > 0, got ${times}`)
    this.authFaults.push({account: '*', item: fault, remaining: times})
  }

  /**
   * The next `times` conversation answers of `account` ('*' = any) stream exactly `events` and then
   * end the response — no automatic `[DONE]` (add `DONE` yourself). A queued 'status' or
   * 'error-event' fault goes first and leaves the script queued; 'die-mid-stream' cuts the script.
   */
  script(account: string, events: ScriptedEvent[], times = 1): void {
    if (!(times > 0)) throw new Error(`script(): times must be > 0, got ${times}`)
    this.scripts.push({account, item: events.map((e) => ({...e})), remaining: times})
  }

  clearFaults(): void {
    this.faults.length = 0
    this.scripts.length = 0
    this.authFaults.length = 0
  }

  /** Forget recorded conversations and exchanges and the maxima (they restart from what is in flight now). Tokens, faults and scripts stay. */
  resetStats(): void {
    this.conversations.length = 0
    this.exchanges.length = 0
    this.highest.clear()
    for (const [k, v] of this.current) if (v > 0) this.highest.set(k, v)
  }

  /** Stop listening and destroy every socket. */
  close(): Promise<void> {
    return this.http.close()
  }

  // ---- internals ----

  private ttl(): number {
    return this.options.accessTtlS ?? 3600
  }

  private authenticate(req: IncomingMessage): Auth {
    const token = bearer(req)
    if (token === undefined)
      return {ok: false, detail: 'Authentication credentials were not provided (Authorization: Bearer <access token>).'}
    if (this.revoked.has(token))
      return {ok: false, detail: 'Your authentication token has been invalidated. Please try signing in again.'}
    const entry = this.accessTokens.get(token)
    if (!entry) return {ok: false, detail: 'Could not parse your authentication token. Please try signing in again.'}
    if (entry.exp * 1000 <= Date.now())
      return {ok: false, detail: 'Your authentication token has expired. Please try signing in again.'}
    return {ok: true, account: entry.account}
  }

  private track(account: string, res: ServerResponse): void {
    for (const k of new Set([account, '*'])) {
      const n = (this.current.get(k) ?? 0) + 1
      this.current.set(k, n)
      if (n > (this.highest.get(k) ?? 0)) this.highest.set(k, n)
    }
    let done = false
    const finished = () => {
      if (done) return
      done = true
      for (const k of new Set([account, '*'])) this.current.set(k, (this.current.get(k) ?? 1) - 1)
    }
    res.once('finish', finished)
    res.once('close', finished)
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const at = Date.now()
    res.on('error', () => {})
    req.on('error', () => {})
    const method = req.method ?? 'GET'
    const pathname = new URL(req.url ?? '/', 'http://fake.invalid').pathname
    // Conversations count as in flight from arrival (headers are enough to know the account).
    const auth = method === 'POST' && pathname === '/backend-api/conversation' ? this.authenticate(req) : undefined
    if (auth?.ok) this.track(auth.account, res)
    const gone = new AbortController()
    res.once('close', () => gone.abort())
    const ctx: Ctx = {req, res, at, signal: AbortSignal.any([this.http.stopping.signal, gone.signal])}
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      this.route(ctx, method, pathname, text, auth).catch((error: unknown) => {
        if (error instanceof DetailError) {
          this.send(ctx, error.status, error.payload)
          return
        }
        if (res.headersSent) {
          res.destroy()
          return
        }
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
        this.send(ctx, 500, {detail: `fake ChatGPT web bug: ${message}`})
      })
    })
  }

  private async route(ctx: Ctx, method: string, pathname: string, text: string, auth: Auth | undefined): Promise<void> {
    if (method === 'POST' && pathname === '/backend-api/conversation' && auth) {
      if (!auth.ok) throw detail(401, auth.detail)
      await this.conversation(ctx, auth.account, text)
      return
    }
    if (method === 'GET' && pathname === '/backend-api/models') {
      const models = this.authenticate(ctx.req)
      if (!models.ok) throw detail(401, models.detail)
      this.send(ctx, 200, {models: WEB_MODEL_SLUGS.map((slug) => ({slug}))})
      return
    }
    if (method === 'POST' && pathname === '/oauth/token') {
      this.oauthToken(ctx, text)
      return
    }
    if (method === 'POST' && pathname === '/auth/refresh_token') {
      this.refreshEndpoint(ctx, text)
      return
    }
    throw detail(404, 'Not Found')
  }

  /** A complete non-stream reply: strings verbatim (text/html when they start with `<`), anything else as JSON. */
  private send(ctx: Ctx, status: number, payload: unknown, headers: Record<string, string> = {}): void {
    const {res} = ctx
    if (res.destroyed || res.headersSent) return
    const isText = typeof payload === 'string'
    const contentType = isText
      ? payload.trimStart().startsWith('<')
        ? 'text/html; charset=UTF-8'
        : 'text/plain; charset=utf-8'
      : 'application/json'
    const body = Buffer.from(isText ? payload : JSON.stringify(payload), 'utf8')
    const extra: Record<string, string> = {}
    for (const [k, v] of Object.entries(headers)) extra[k.toLowerCase()] = v
    res.writeHead(status, {'content-type': contentType, 'content-length': String(body.length), ...extra})
    res.end(body)
  }

  private statusFault(ctx: Ctx, fault: {status: number; body?: unknown; headers?: Record<string, string>}): void {
    let body = fault.body
    const headers: Record<string, string> = {}
    if (body === undefined) {
      if (fault.status === 403) {
        body = CLOUDFLARE_HTML
        headers['cf-mitigated'] = 'challenge'
      } else if (fault.status === 429) {
        body = {detail: "You've reached our limit of messages per hour. Please try again later."}
      } else if (fault.status === 401) {
        body = {detail: 'Your authentication token has expired. Please try signing in again.'}
      } else {
        body = {detail: `Upstream error ${fault.status} (fault injected by the fake ChatGPT web backend).`}
      }
    }
    this.send(ctx, fault.status, body, {...headers, ...fault.headers})
  }

  /** Wait `ms`; false when the fake is closing or the client went away. */
  private async wait(ctx: Ctx, ms: number): Promise<boolean> {
    if (ms > 0) {
      try {
        await sleep(ms, undefined, {signal: ctx.signal})
      } catch {
        return false
      }
    }
    return !ctx.res.destroyed && !ctx.signal.aborted
  }

  private kill(ctx: Ctx): void {
    const socket = ctx.res.socket
    if (!socket) {
      ctx.res.destroy()
      return
    }
    socket.end(() => socket.destroy())
  }

  private async stream(ctx: Ctx, events: ScriptedEvent[], done: boolean, dieAfter: number | undefined): Promise<void> {
    const {res} = ctx
    if (res.destroyed) return
    res.writeHead(200, {'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache'})
    res.flushHeaders()
    let sent = 0
    for (const event of events) {
      if (dieAfter !== undefined && sent >= dieAfter) break
      if (sent > 0 && !(await this.wait(ctx, this.options.chunkDelayMs ?? 0))) return
      res.write(frame(event))
      sent++
    }
    if (dieAfter !== undefined) {
      this.kill(ctx)
      return
    }
    if (!done) {
      res.end()
      return
    }
    if (sent > 0 && !(await this.wait(ctx, this.options.chunkDelayMs ?? 0))) return
    res.end('data: [DONE]\n\n')
  }

  private async conversation(ctx: Ctx, account: string, text: string): Promise<void> {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw detail(400, 'The request body is not valid JSON.')
    }
    if (!isRecord(parsed)) throw detail(400, 'The request body must be a JSON object.')
    const body = parsed
    const problem = shapeProblem(body)
    if (problem) throw detail(400, problem)
    this.conversations.push({account, body, headers: {...ctx.req.headers}, at: ctx.at})

    const conversationId = typeof body.conversation_id === 'string' ? body.conversation_id : randomUUID()
    const fault = take(this.faults, account)
    if (fault?.type === 'status') {
      this.statusFault(ctx, fault)
      return
    }
    if (fault?.type === 'error-event') {
      await this.stream(
        ctx,
        [{data: {message: null, conversation_id: conversationId, error: fault.message}}],
        true,
        undefined,
      )
      return
    }
    const dieAfter = fault?.type === 'die-mid-stream' ? Math.max(0, Math.floor(fault.afterEvents)) : undefined
    const scripted = take(this.scripts, account)
    if (scripted) {
      await this.stream(ctx, scripted, false, dieAfter)
      return
    }
    const answer = (this.options.answer ?? defaultWebAnswer)(lastUserText(body), body)
    const events = answerEvents({
      format: this.options.format ?? 'cumulative',
      model: body.model as string,
      conversationId,
      body,
      segments: (this.options.split ?? splitWords)(answer),
      shapes: this.options.shapes ?? [],
      citations: this.options.citations,
      ending: endingOf(fault),
    })
    await this.stream(ctx, events, true, dieAfter)
  }

  // ---- token exchanges ----

  private exchange(refreshToken: string): {ok: true; payload: Json} | {ok: false; reason: string} {
    if (this.revoked.has(refreshToken)) return {ok: false, reason: 'The refresh token has been revoked.'}
    if (this.spent.has(refreshToken))
      return {ok: false, reason: 'The refresh token has already been used (it was rotated).'}
    const account = this.refreshTokens.get(refreshToken)
    if (account === undefined) return {ok: false, reason: 'Unknown or invalid refresh token.'}
    const ttl = this.ttl()
    const payload: Json = {access_token: this.issueAccessToken(account, ttl)}
    if (this.options.rotate ?? true) {
      this.refreshTokens.delete(refreshToken)
      this.spent.add(refreshToken)
      payload.refresh_token = this.issueRefreshToken(account)
    }
    const iat = nowS()
    payload.id_token = fakeJwt({
      iss: 'https://auth0.openai.com/',
      aud: IOS_CLIENT_ID,
      sub: `auth0|${hex(account, 'sub').slice(0, 24)}`,
      email: account,
      email_verified: true,
      name: account.split('@')[0],
      picture: 'https://fake.invalid/avatar.png',
      [AUTH_CLAIM]: {user_id: webUserId(account), chatgpt_account_id: webAccountId(account), chatgpt_plan_type: 'plus'},
      iat,
      exp: iat + ttl,
    })
    payload.expires_in = ttl
    payload.token_type = 'Bearer'
    return {ok: true, payload}
  }

  private oauthToken(ctx: Ctx, text: string): void {
    const contentType = String(ctx.req.headers['content-type'] ?? '').toLowerCase()
    let fields: Json | undefined
    if (contentType.includes('application/x-www-form-urlencoded')) {
      fields = Object.fromEntries(new URLSearchParams(text))
    } else {
      try {
        const parsed: unknown = JSON.parse(text)
        if (isRecord(parsed)) fields = parsed
      } catch {
        fields = undefined
      }
    }
    const presented = fields && typeof fields.refresh_token === 'string' ? fields.refresh_token : ''
    const record: RecordedExchange = {
      style: 'oauth',
      body: fields ?? (text === '' ? undefined : text),
      refreshToken: presented,
      ok: false,
      at: ctx.at,
    }
    this.exchanges.push(record)
    const fault = take(this.authFaults, '*')
    if (fault?.type === 'hang') return // never answers, never rotates (until close())
    if (fault) {
      this.statusFault(ctx, fault)
      return
    }
    if (!fields)
      throw oauthError('invalid_request', 'The body must be a JSON object or application/x-www-form-urlencoded.')
    if (fields.grant_type === undefined || fields.grant_type === '')
      throw oauthError('invalid_request', 'Missing required parameter: grant_type')
    if (typeof fields.client_id !== 'string' || fields.client_id === '')
      throw oauthError('invalid_request', 'Missing required parameter: client_id')
    if (fields.grant_type !== 'refresh_token')
      throw new DetailError(400, {
        error: 'unsupported_grant_type',
        error_description: `Unsupported grant type: ${String(fields.grant_type)}`,
      })
    if (presented === '') throw oauthError('invalid_request', 'Missing required parameter: refresh_token')
    const result = this.exchange(presented)
    if (!result.ok) throw oauthError('invalid_grant', result.reason)
    record.ok = true
    this.send(ctx, 200, result.payload)
  }

  private refreshEndpoint(ctx: Ctx, text: string): void {
    let body: unknown
    if (text !== '') {
      try {
        body = JSON.parse(text)
      } catch {
        body = text
      }
    }
    const presented = bearer(ctx.req) ?? ''
    const record: RecordedExchange = {style: 'refresh-endpoint', body, refreshToken: presented, ok: false, at: ctx.at}
    this.exchanges.push(record)
    const fault = take(this.authFaults, '*')
    if (fault?.type === 'hang') return // never answers, never rotates (until close())
    if (fault) {
      this.statusFault(ctx, fault)
      return
    }
    if (presented === '') throw detail(401, 'Missing refresh token (Authorization: Bearer <refresh token>).')
    const result = this.exchange(presented)
    if (!result.ok) throw detail(401, result.reason)
    record.ok = true
    this.send(ctx, 200, result.payload)
  }
}
