import {Agent, request} from 'undici'

import type {UpstreamConfig} from './config.js'
import {GptconvError, InvalidSecretError, errorMessage} from './errors.js'
import {accessTokenInfo, decodeJwt} from './jwt.js'
import {redact} from './mask.js'
import {describeNetworkError, upstreamMessage} from './upstream-check.js'
import {CODEX_AUTH_URL} from './upstreams.js'

/**
 * The OAuth server a ChatGPT plan signs in at, spoken the way Codex CLI does
 * (openai/codex codex-rs/login: server.rs, device_code_auth.rs, auth/manager.rs): one public
 * client, `POST {issuer}/oauth/token` for the code and refresh grants, JWTs whose
 * `https://api.openai.com/auth` claim names the ChatGPT account and plan.
 */

/** Codex CLI's OAuth client id. */
export const CODEX_CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann'
/** What Codex CLI asks for at /oauth/authorize. */
export const CODEX_SCOPE = 'openid profile email offline_access api.connectors.read api.connectors.invoke'
/** What Codex CLI (2025 builds) and LiteLLM send with a refresh grant. */
export const CODEX_REFRESH_SCOPE = 'openid profile email'
/** Sent as `originator` at /oauth/authorize; the backend accepts other originators too. */
export const CODEX_ORIGINATOR = 'codex_cli_rs'

/** The issuer of a codex upstream (its `authUrl`), without a trailing slash. */
export function codexIssuer(upstream: Pick<UpstreamConfig, 'authUrl'>): string {
  return (upstream.authUrl ?? CODEX_AUTH_URL).replace(/\/+$/, '')
}

export const tokenEndpoint = (issuer: string) => `${issuer}/oauth/token`

/** What a token endpoint answered; `idToken` and `refreshToken` only when present. */
export type OAuthTokens = {accessToken: string; idToken?: string; refreshToken?: string; expiresIn?: number}

/** Who a login belongs to, read (never verified) from the access token, else the id token. */
export type CodexClaims = {expiresAt: Date; email?: string; chatgptAccountId?: string; plan?: string}

export type HttpAnswer = {status: number; text: string}

let agent: Agent | undefined

/** POST to a token endpoint: JSON or form-urlencoded. Network failures throw `onNetwork`'s error; `secrets` never reach a message. */
export async function postToIssuer(
  url: string,
  body: {json?: unknown; form?: Record<string, string>},
  options: {
    secrets: string[]
    timeoutMs?: number
    signal?: AbortSignal
    headers?: Record<string, string>
    onNetwork: (message: string) => Error
  },
): Promise<HttpAnswer> {
  const timeoutMs = options.timeoutMs ?? 30_000
  const form = body.form === undefined ? undefined : new URLSearchParams(body.form).toString()
  const headers = {
    'content-type': form === undefined ? 'application/json' : 'application/x-www-form-urlencoded',
    accept: 'application/json',
    'user-agent': 'gptconv/0.1',
    ...options.headers,
  }
  agent ??= new Agent({connectTimeout: 10_000})
  const signal = options.signal
    ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)])
    : AbortSignal.timeout(timeoutMs)
  try {
    const res = await request(url, {
      method: 'POST',
      headers,
      body: form ?? JSON.stringify(body.json),
      dispatcher: agent,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal,
    })
    return {status: res.statusCode, text: await res.body.text()}
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason
    throw options.onNetwork(`Cannot reach ${url}: ${redact(describeNetworkError(error), options.secrets)}.`)
  }
}

/** The error code of an OAuth error body: `error.code`, a string `error`, or `code`. */
export function oauthErrorCode(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as {error?: unknown; code?: unknown}
    const error = body.error
    if (typeof error === 'object' && error !== null && typeof (error as {code?: unknown}).code === 'string')
      return (error as {code: string}).code
    if (typeof error === 'string') return error
    if (typeof body.code === 'string') return body.code
  } catch {
    // not JSON: no code
  }

  return undefined
}

/** Parse a token endpoint's 200 answer; `fail` builds the error for garbage (what kind depends on the caller). */
export function parseTokens(text: string, fail: (message: string) => Error): OAuthTokens {
  let data: {access_token?: unknown; id_token?: unknown; refresh_token?: unknown; expires_in?: unknown}
  try {
    data = JSON.parse(text) as typeof data
  } catch {
    throw fail('The token endpoint answered with something that is not JSON.')
  }

  if (typeof data !== 'object' || data === null || typeof data.access_token !== 'string' || data.access_token === '')
    throw fail('The token endpoint answered without an access_token.')
  const word = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined)
  const idToken = word(data.id_token)
  const refreshToken = word(data.refresh_token)
  const expiresIn =
    typeof data.expires_in === 'number' && Number.isFinite(data.expires_in) ? data.expires_in : undefined
  return {
    accessToken: data.access_token,
    ...(idToken && {idToken}),
    ...(refreshToken && {refreshToken}),
    ...(expiresIn !== undefined && {expiresIn}),
  }
}

const record = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {}
const text = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined)

/**
 * Who a login belongs to: the access token carries `chatgpt_account_id` and
 * `chatgpt_plan_type` in its `https://api.openai.com/auth` claim, as the id token does; the
 * e-mail is the id token's `email` or the access token's profile claim. Either token may be
 * missing or not a JWT: what cannot be read is left out.
 */
export function accountClaims(
  accessToken: string | undefined,
  idToken: string | undefined,
): Omit<CodexClaims, 'expiresAt'> {
  const access = (accessToken && decodeJwt(accessToken)) || {}
  const id = (idToken && decodeJwt(idToken)) || {}
  const accessAuth = record(access['https://api.openai.com/auth'])
  const idAuth = record(id['https://api.openai.com/auth'])
  const email = text(id.email) ?? text(record(access['https://api.openai.com/profile']).email) ?? text(access.email)
  const chatgptAccountId = text(accessAuth.chatgpt_account_id) ?? text(idAuth.chatgpt_account_id)
  const plan = text(accessAuth.chatgpt_plan_type) ?? text(idAuth.chatgpt_plan_type)
  return {...(email && {email}), ...(chatgptAccountId && {chatgptAccountId}), ...(plan && {plan})}
}

/** The account (see accountClaims) and the access token's expiry: its `exp`, else `expires_in` from now. Throws when neither tells. */
export function codexClaims(
  tokens: {accessToken: string; idToken?: string; expiresIn?: number},
  now = Date.now(),
): CodexClaims {
  if (!decodeJwt(tokens.accessToken))
    throw new InvalidSecretError('The access token is not a JWT, so the ChatGPT account it belongs to cannot be read.')
  let expiresAt: Date
  try {
    expiresAt = accessTokenInfo(tokens.accessToken).expiresAt
  } catch (error) {
    if (tokens.expiresIn === undefined) throw error
    expiresAt = new Date(now + tokens.expiresIn * 1000)
  }

  return {expiresAt, ...accountClaims(tokens.accessToken, tokens.idToken)}
}

/** A login that did not complete: refused, timed out, cancelled, or an answer that makes no sense. */
export class LoginFailedError extends GptconvError {
  constructor(message: string, options: {hint?: string; code?: string} = {}) {
    super(options.code ?? 'GPTCONV_LOGIN_FAILED', message, {
      status: 502,
      hint: options.hint ?? 'Run `gptconv login` again.',
    })
  }
}

/** The authorization-code grant (PKCE): form-urlencoded, as Codex CLI sends it. */
export async function exchangeCode(
  issuer: string,
  grant: {code: string; redirectUri: string; verifier: string},
  options: {timeoutMs?: number; signal?: AbortSignal} = {},
): Promise<OAuthTokens & {refreshToken: string}> {
  const secrets = [grant.code, grant.verifier]
  const answer = await postToIssuer(
    tokenEndpoint(issuer),
    {
      form: {
        grant_type: 'authorization_code',
        code: grant.code,
        redirect_uri: grant.redirectUri,
        client_id: CODEX_CLIENT_ID,
        code_verifier: grant.verifier,
      },
    },
    {secrets, ...options, onNetwork: (m) => new LoginFailedError(m)},
  )
  if (answer.status !== 200)
    throw new LoginFailedError(
      `The sign-in could not be completed: the token endpoint answered ${answer.status}: ${upstreamMessage(answer.text, secrets) || 'no message'}.`,
    )
  const tokens = parseTokens(answer.text, (m) => new LoginFailedError(m))
  if (!tokens.refreshToken)
    throw new LoginFailedError(
      'The token endpoint answered without a refresh_token, so gptconv could not renew access by itself.',
    )
  try {
    codexClaims(tokens)
  } catch (error) {
    throw new LoginFailedError(`The token endpoint answered with an unusable access token: ${errorMessage(error)}`)
  }

  return {...tokens, refreshToken: tokens.refreshToken}
}
