import {Agent, request} from 'undici'

import type {AuthStyle, TokenEntry, UpstreamConfig} from './config.js'
import type {Context} from './context.js'
import {GptconvError, InvalidSecretError, NotFoundError, errorMessage} from './errors.js'
import {accessTokenInfo} from './jwt.js'
import {redact} from './mask.js'
import {type SecretStore, accessAccount, storeOfKind} from './secrets/index.js'
import {describeNetworkError, upstreamMessage} from './upstream-check.js'

/**
 * Refresh tokens (docs/protocols.md §5.1–5.2): exchanged at the upstream's `authUrl` for a
 * ChatGPT access token, which is cached in the secret store as `<label>#access`.
 * - openai-auth style (`…/oauth/token`): a `refresh_token` grant with a client id and
 *   redirect URI (the ChatGPT iOS app's by default; configurable per upstream);
 * - refresh-endpoint style (`/auth/refresh_token` of self-hosted proxies): the refresh
 *   token as Bearer, an empty JSON body.
 * A rotated refresh token is written over the old one the moment the answer arrives —
 * before the access token is cached or used — with an atomic replace, so the store holds
 * either the old or the new one, never neither. Concurrent renewals of one token in this
 * process are merged into one exchange.
 */

export const DEFAULT_CLIENT_ID = 'pdlLIX2Y72MIl2rhLhTE9VV9bN905kBh'
export const DEFAULT_REDIRECT_URI = 'com.openai.chat://auth0.openai.com/ios/com.openai.chat/callback'

export type Exchange = {accessToken: string; refreshToken?: string; expiresAt: Date; account?: string}

/** The upstream refused the refresh token itself (used, revoked, unknown): it will not work again. */
export class RefreshRefusedError extends GptconvError {
  constructor(message: string) {
    super('GPTCONV_REFRESH_REFUSED', message, {status: 401, hint: 'Sign in again and add the new refresh token with `gptconv tokens add LABEL --kind refresh-token --force`.'})
  }
}

/** The exchange did not happen (network, 5xx, garbage): try again later. */
export class RefreshFailedError extends GptconvError {
  constructor(message: string) {
    super('GPTCONV_REFRESH_FAILED', message, {status: 502})
  }
}

export function authStyleOf(upstream: UpstreamConfig): AuthStyle {
  if (upstream.authStyle) return upstream.authStyle
  return /\/oauth\/token\/?$/.test(new URL(upstream.authUrl ?? 'http://x/').pathname) ? 'openai-auth' : 'refresh-endpoint'
}

let agent: Agent | undefined

export async function exchangeRefreshToken(upstream: UpstreamConfig & {name?: string}, refreshToken: string, timeoutMs = 30_000): Promise<Exchange> {
  if (!upstream.authUrl) {
    throw new GptconvError('GPTCONV_NO_AUTH_URL', `Upstream ${upstream.name ?? ''} has no --auth-url to exchange refresh tokens at.`, {hint: 'Set it: gptconv upstreams add NAME --protocol chatgpt-web --base-url URL --auth-url URL --force'})
  }

  const style = authStyleOf(upstream)
  const body =
    style === 'openai-auth'
      ? JSON.stringify({grant_type: 'refresh_token', client_id: upstream.clientId ?? DEFAULT_CLIENT_ID, redirect_uri: upstream.redirectUri ?? DEFAULT_REDIRECT_URI, refresh_token: refreshToken})
      : '{}'
  const headers: Record<string, string> = {'content-type': 'application/json', accept: 'application/json', 'user-agent': 'gptconv/0.1'}
  if (style === 'refresh-endpoint') headers.authorization = `Bearer ${refreshToken}`
  agent ??= new Agent({connectTimeout: 10_000})
  let status: number
  let text: string
  try {
    const res = await request(upstream.authUrl, {method: 'POST', headers, body, dispatcher: agent, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs)})
    status = res.statusCode
    text = await res.body.text()
  } catch (error) {
    throw new RefreshFailedError(`Cannot reach ${upstream.authUrl}: ${redact(describeNetworkError(error), [refreshToken])}.`)
  }

  const message = upstreamMessage(text, [refreshToken]) || `HTTP ${status}`
  if (status === 400 || status === 401 || status === 403) throw new RefreshRefusedError(`The refresh token was refused (${status}: ${message}).`)
  if (status < 200 || status >= 300) throw new RefreshFailedError(`The token endpoint answered ${status}: ${message}.`)
  let data: {access_token?: unknown; refresh_token?: unknown; expires_in?: unknown}
  try {
    data = JSON.parse(text) as typeof data
  } catch {
    throw new RefreshFailedError('The token endpoint answered with something that is not JSON.')
  }

  if (typeof data.access_token !== 'string') throw new RefreshFailedError('The token endpoint answered without an access_token.')
  let info: ReturnType<typeof accessTokenInfo>
  try {
    info = accessTokenInfo(data.access_token)
  } catch (error) {
    throw new RefreshFailedError(`The token endpoint answered with an unusable access token: ${errorMessage(error)}`)
  }

  const refreshed = typeof data.refresh_token === 'string' && data.refresh_token !== '' ? data.refresh_token : undefined
  return {accessToken: data.access_token, refreshToken: refreshed, expiresAt: info.expiresAt, account: info.account}
}

const inFlight = new Map<string, Promise<Exchange>>()

/**
 * Exchange a stored refresh token now: persist a rotated refresh token first, then cache
 * the access token. Concurrent calls for one label share one exchange.
 */
export function renewToken(ctx: Context, entry: TokenEntry, upstream: UpstreamConfig & {name?: string}, store: SecretStore = storeOfKind(entry.store, {env: ctx.env, warn: ctx.warn})): Promise<Exchange> {
  const key = `${ctx.paths.dir}\u0000${entry.label}\u0000${entry.addedAt}`
  let running = inFlight.get(key)
  if (!running) {
    running = (async () => {
      const refreshToken = await store.get(entry.label)
      if (refreshToken === null) throw new NotFoundError('GPTCONV_SECRET_MISSING', `The refresh token of "${entry.label}" is missing from the secret store.`, {hint: `Add it again: gptconv tokens add ${entry.label} --kind refresh-token --force`})
      const exchange = await exchangeRefreshToken(upstream, refreshToken)
      if (exchange.refreshToken && exchange.refreshToken !== refreshToken) await store.set(entry.label, exchange.refreshToken)
      await store.set(accessAccount(entry.label), exchange.accessToken)
      return exchange
    })().finally(() => inFlight.delete(key))
    inFlight.set(key, running)
  }

  return running
}

/** The cached access token of a refresh-token entry, when it is still valid for `marginMs`. */
export async function cachedAccessToken(ctx: Context, entry: TokenEntry, marginMs: number): Promise<{accessToken: string; expiresAt: Date; account?: string} | undefined> {
  const token = await storeOfKind(entry.store, {env: ctx.env}).get(accessAccount(entry.label))
  if (!token) return undefined
  try {
    const info = accessTokenInfo(token)
    return info.expiresAt.getTime() - marginMs > Date.now() ? {accessToken: token, ...info} : undefined
  } catch (error) {
    if (error instanceof InvalidSecretError) return undefined
    throw error
  }
}

/** Renew this long before an access token expires: a tenth of its life, at least 5 minutes, at most an hour — and never more than half of it. */
export function renewalMargin(lifetimeMs: number): number {
  return Math.min(lifetimeMs / 2, Math.min(3_600_000, Math.max(300_000, lifetimeMs / 10)))
}
