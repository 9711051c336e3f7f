import type {AuthStyle, UpstreamConfig} from './config.js'
import {
  CODEX_CLIENT_ID,
  CODEX_REFRESH_SCOPE,
  codexClaims,
  codexIssuer,
  oauthErrorCode,
  parseTokens,
  postToIssuer,
  tokenEndpoint,
} from './codex-auth.js'
import {GptconvError, errorMessage} from './errors.js'
import {accessTokenInfo} from './jwt.js'
import {upstreamMessage} from './upstream-check.js'

/**
 * One refresh-token exchange at an upstream's token endpoint, in the style its protocol and
 * settings call for:
 * - openai-auth (`…/oauth/token` of a ChatGPT-web upstream): a `refresh_token` grant with a
 *   client id and redirect URI (the ChatGPT iOS app's by default; configurable per upstream);
 * - refresh-endpoint (`/auth/refresh_token` of self-hosted proxies): the refresh token as
 *   Bearer, an empty JSON body;
 * - codex (every codex upstream): Codex CLI's JSON `refresh_token` grant at `{issuer}/oauth/token`.
 */

export const DEFAULT_CLIENT_ID = 'pdlLIX2Y72MIl2rhLhTE9VV9bN905kBh'
export const DEFAULT_REDIRECT_URI = 'com.openai.chat://auth0.openai.com/ios/com.openai.chat/callback'

export type RefreshStyle = AuthStyle | 'codex'

export type Exchange = {
  accessToken: string
  /** the new refresh token, when the endpoint rotated it */
  refreshToken?: string
  expiresAt: Date
  account?: string
  /** ChatGPT-plan tokens: the ChatGPT account (workspace) id and the plan, from the token's claims */
  chatgptAccountId?: string
  plan?: string
  /** another process renewed this token while this one waited for it: no exchange was made here */
  shared?: boolean
  /** the rotated refresh token could not be stored yet: it is kept in memory and stored as soon as the store takes it */
  notStored?: RefreshNotStoredError
}

const LOGIN_HINT =
  'Sign in again with `gptconv login` (or add a new refresh token with `gptconv tokens add LABEL --kind refresh-token --force`).'

/** The upstream refused the refresh token itself (used, revoked, unknown): it will not work again. */
export class RefreshRefusedError extends GptconvError {
  constructor(
    message: string,
    hint = 'Sign in again and add the new refresh token with `gptconv tokens add LABEL --kind refresh-token --force`.',
  ) {
    super('GPTCONV_REFRESH_REFUSED', message, {status: 401, hint})
  }
}

/** The exchange did not happen (network, 5xx, garbage, another process holding the token): try again later. */
export class RefreshFailedError extends GptconvError {
  constructor(message: string) {
    super('GPTCONV_REFRESH_FAILED', message, {status: 502})
  }
}

/** The endpoint rotated the refresh token and the secret store did not take the new one (locked, slow, full). */
export class RefreshNotStoredError extends GptconvError {
  constructor(label: string, cause: unknown) {
    super(
      'GPTCONV_REFRESH_NOT_STORED',
      `The new refresh token of "${label}" could not be stored (${errorMessage(cause).replace(/\.$/, '')}); the old one is spent. This process keeps the new one and keeps trying to store it.`,
      {
        status: 503,
        hint: 'Unlock the keychain or free disk space. If this process ends before the token is stored, sign in again with `gptconv login`.',
      },
    )
  }
}

export function authStyleOf(upstream: UpstreamConfig): RefreshStyle {
  if (upstream.protocol === 'codex') return 'codex'
  if (upstream.authStyle) return upstream.authStyle
  return /\/oauth\/token\/?$/.test(new URL(upstream.authUrl ?? 'http://x/').pathname)
    ? 'openai-auth'
    : 'refresh-endpoint'
}

export type ExchangeOptions = {timeoutMs?: number; label?: string}

export async function exchangeRefreshToken(
  upstream: UpstreamConfig & {name?: string},
  refreshToken: string,
  options: ExchangeOptions = {},
): Promise<Exchange> {
  return authStyleOf(upstream) === 'codex'
    ? exchangeCodex(upstream, refreshToken, options)
    : exchangeWeb(upstream, refreshToken, options)
}

async function exchangeWeb(
  upstream: UpstreamConfig & {name?: string},
  refreshToken: string,
  options: ExchangeOptions,
): Promise<Exchange> {
  if (!upstream.authUrl) {
    throw new GptconvError(
      'GPTCONV_NO_AUTH_URL',
      `Upstream ${upstream.name ?? ''} has no --auth-url to exchange refresh tokens at.`,
      {hint: 'Set it: gptconv upstreams add NAME --protocol chatgpt-web --base-url URL --auth-url URL --force'},
    )
  }

  const style = authStyleOf(upstream)
  const json =
    style === 'openai-auth'
      ? {
          grant_type: 'refresh_token',
          client_id: upstream.clientId ?? DEFAULT_CLIENT_ID,
          redirect_uri: upstream.redirectUri ?? DEFAULT_REDIRECT_URI,
          refresh_token: refreshToken,
        }
      : {}
  const headers: Record<string, string> = style === 'refresh-endpoint' ? {authorization: `Bearer ${refreshToken}`} : {}
  const {status, text} = await postToIssuer(
    upstream.authUrl,
    {json},
    {secrets: [refreshToken], timeoutMs: options.timeoutMs, headers, onNetwork: (m) => new RefreshFailedError(m)},
  )
  const message = upstreamMessage(text, [refreshToken]) || `HTTP ${status}`
  if (status === 400 || status === 401 || status === 403)
    throw new RefreshRefusedError(`The refresh token was refused (${status}: ${message}).`)
  if (status < 200 || status >= 300) throw new RefreshFailedError(`The token endpoint answered ${status}: ${message}.`)
  const tokens = parseTokens(text, (m) => new RefreshFailedError(m))
  let info: ReturnType<typeof accessTokenInfo>
  try {
    info = accessTokenInfo(tokens.accessToken)
  } catch (error) {
    throw new RefreshFailedError(`The token endpoint answered with an unusable access token: ${errorMessage(error)}`)
  }

  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: info.expiresAt,
    account: info.account,
  }
}

/**
 * Error codes auth.openai.com gives a refresh token that will never work again (Codex CLI
 * stops retrying on them, codex-rs/login/src/auth/manager.rs), with what they mean.
 */
const DEAD_CODES: Record<string, string> = {
  refresh_token_reused:
    'it was already used to get a new access token (another program holding the same login, such as Codex CLI with the same auth.json, may have renewed it first)',
  refresh_token_expired: 'it has expired',
  refresh_token_invalidated: 'it was revoked (signed out, or the password was changed)',
}

async function exchangeCodex(
  upstream: UpstreamConfig & {name?: string},
  refreshToken: string,
  options: ExchangeOptions,
): Promise<Exchange> {
  const json = {
    client_id: CODEX_CLIENT_ID,
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    scope: CODEX_REFRESH_SCOPE,
  }
  const {status, text} = await postToIssuer(
    tokenEndpoint(codexIssuer(upstream)),
    {json},
    {secrets: [refreshToken], timeoutMs: options.timeoutMs, onNetwork: (m) => new RefreshFailedError(m)},
  )
  const code = oauthErrorCode(text)
  const message = upstreamMessage(text, [refreshToken]) || `HTTP ${status}`
  // A dead-token code or any 401 is final; every other failure may pass (Codex CLI treats them as transient).
  if ((code !== undefined && Object.hasOwn(DEAD_CODES, code)) || status === 401) {
    const why =
      code !== undefined && Object.hasOwn(DEAD_CODES, code) ? `${DEAD_CODES[code]} (${code})` : `${status}: ${message}`
    const login = `gptconv login${upstream.name ? ` --upstream ${upstream.name}` : ''}${options.label ? ` --label ${options.label}` : ''}`
    throw new RefreshRefusedError(`The refresh token was refused: ${why}. Sign in again with \`${login}\`.`, LOGIN_HINT)
  }

  if (status < 200 || status >= 300) throw new RefreshFailedError(`The token endpoint answered ${status}: ${message}.`)
  const tokens = parseTokens(text, (m) => new RefreshFailedError(m))
  let claims: ReturnType<typeof codexClaims>
  try {
    claims = codexClaims(tokens)
  } catch (error) {
    throw new RefreshFailedError(`The token endpoint answered with an unusable access token: ${errorMessage(error)}`)
  }

  return {
    accessToken: tokens.accessToken,
    ...(tokens.refreshToken && {refreshToken: tokens.refreshToken}),
    expiresAt: claims.expiresAt,
    account: claims.email ?? claims.chatgptAccountId,
    ...(claims.chatgptAccountId && {chatgptAccountId: claims.chatgptAccountId}),
    ...(claims.plan && {plan: claims.plan}),
  }
}
