import {setTimeout as sleep} from 'node:timers/promises'

import type {TokenEntry, UpstreamConfig} from './config.js'
import type {Context} from './context.js'
import {InvalidSecretError, NotFoundError, errorMessage} from './errors.js'
import {accessTokenInfo} from './jwt.js'
import {
  type Exchange,
  RefreshFailedError,
  RefreshNotStoredError,
  RefreshRefusedError,
  exchangeRefreshToken,
} from './refresh-exchange.js'
import {type SecretStore, accessAccount, storeOfKind} from './secrets/index.js'
import {TokenBusyError, withTokenLock} from './token-lock.js'

export {
  DEFAULT_CLIENT_ID,
  DEFAULT_REDIRECT_URI,
  type Exchange,
  RefreshFailedError,
  RefreshNotStoredError,
  RefreshRefusedError,
  type RefreshStyle,
  authStyleOf,
  exchangeRefreshToken,
} from './refresh-exchange.js'

/**
 * Refresh tokens: exchanged at the upstream's token endpoint (refresh-exchange.ts) for an
 * access token, which is cached in the secret store as `<label>#access`. Refresh tokens
 * rotate and work once, so a renewal:
 * - holds the token's cross-process lock from reading the refresh token to storing the
 *   new one (token-lock.ts), and after getting it re-reads the store: when another process
 *   renewed meanwhile, its cached access token is used instead of exchanging again;
 * - writes a rotated refresh token first (an atomic replace, so the store holds the old or
 *   the new one, never neither), then caches the access token;
 * - when the store does not take the new refresh token (keychain locked or slow, disk full,
 *   file lock held), keeps it in memory, tries again with backoff, and uses it — never the
 *   spent one — for the next exchange; the failure is returned as `notStored` and warned.
 * Concurrent renewals of one token in this process are merged into one.
 */

export type RenewOptions = {
  /** tries to store a rotated refresh token before the renewal returns (default 5) */
  storeAttempts?: number
  /** pause after the first failed try, doubled after each (default 250 ms); later tries in the background back off up to a minute */
  retryDelayMs?: number
  /** tries in the background once the renewal has returned (default 30, about half an hour) */
  backgroundAttempts?: number
  /** how long to wait for another process renewing the same token (default 90 s) */
  lockWaitMs?: number
}

const DEFAULTS: Required<RenewOptions> = {
  storeAttempts: 5,
  retryDelayMs: 250,
  backgroundAttempts: 30,
  lockWaitMs: 90_000,
}
const MAX_BACKOFF_MS = 60_000

const inFlight = new Map<string, Promise<Exchange>>()
/** Rotated refresh tokens the store has not taken yet, per token: the live ones. */
const unstored = new Map<string, {token: string; error: RefreshNotStoredError}>()

const keyOf = (ctx: Context, entry: TokenEntry) => `${ctx.paths.dir}\u0000${entry.label}\u0000${entry.addedAt}`

/** Exchange a stored refresh token now (see above). Concurrent calls for one token share one renewal. */
export function renewToken(
  ctx: Context,
  entry: TokenEntry,
  upstream: UpstreamConfig & {name?: string},
  store: SecretStore = storeOfKind(entry.store, {env: ctx.env, warn: ctx.warn}),
  options: RenewOptions = {},
): Promise<Exchange> {
  const key = keyOf(ctx, entry)
  let running = inFlight.get(key)
  if (!running) {
    const settings = {...DEFAULTS, ...options}
    running = (async () => {
      // what the store held before waiting: a change seen after the wait is another process's renewal
      const before = await store.get(accessAccount(entry.label))
      try {
        return await withTokenLock(ctx, entry, settings.lockWaitMs, () =>
          renewLocked(ctx, {entry, upstream, store, key, before, settings}),
        )
      } catch (error) {
        if (error instanceof TokenBusyError)
          throw new RefreshFailedError(`Cannot renew "${entry.label}" now: ${error.message}.`)
        throw error
      }
    })().finally(() => inFlight.delete(key))
    inFlight.set(key, running)
  }

  return running
}

type Renewal = {
  entry: TokenEntry
  upstream: UpstreamConfig & {name?: string}
  store: SecretStore
  key: string
  before: string | null
  settings: Required<RenewOptions>
}

async function renewLocked(ctx: Context, r: Renewal): Promise<Exchange> {
  const {entry, store, key} = r
  const held = unstored.get(key)
  const refreshToken = held?.token ?? (await store.get(entry.label))
  if (refreshToken === null)
    throw new NotFoundError(
      'GPTCONV_SECRET_MISSING',
      `The refresh token of "${entry.label}" is missing from the secret store.`,
      {hint: `Add it again: gptconv tokens add ${entry.label} --kind refresh-token --force`},
    )
  if (!held) {
    const shared = await renewedMeanwhile(store, entry.label, r.before)
    if (shared) return shared
  }

  let exchange: Exchange
  try {
    exchange = await exchangeRefreshToken({...r.upstream, name: r.upstream.name ?? entry.upstream}, refreshToken, {
      label: entry.label,
    })
  } catch (error) {
    // a refused token held in memory is dead too: nothing left to store
    if (held && error instanceof RefreshRefusedError) unstored.delete(key)
    throw error
  }

  let notStored: RefreshNotStoredError | undefined
  if (exchange.refreshToken && exchange.refreshToken !== refreshToken)
    notStored = await keepRotated(ctx, r, exchange.refreshToken)
  else if (held) notStored = held.error // not rotated this time: the one held is still the live one, still being stored
  try {
    await store.set(accessAccount(entry.label), exchange.accessToken)
  } catch (error) {
    // the access token is good in memory; without the cache another process exchanges again, which is safe
    ctx.warn(`The new access token of "${entry.label}" could not be cached in the secret store: ${errorMessage(error)}`)
  }

  return {...exchange, ...(notStored && {notStored})}
}

/** The access token another process cached while this one waited for the lock, if it is still good for a minute. */
async function renewedMeanwhile(
  store: SecretStore,
  label: string,
  before: string | null,
): Promise<Exchange | undefined> {
  const now = await store.get(accessAccount(label))
  if (now === null || now === before) return undefined
  try {
    const info = accessTokenInfo(now)
    if (info.expiresAt.getTime() - 60_000 <= Date.now()) return undefined
    return {
      accessToken: now,
      expiresAt: info.expiresAt,
      account: info.account,
      ...(info.chatgptAccountId && {chatgptAccountId: info.chatgptAccountId}),
      ...(info.planType && {plan: info.planType}),
      shared: true,
    }
  } catch (error) {
    if (error instanceof InvalidSecretError) return undefined
    throw error
  }
}

/** Store a rotated refresh token, trying a few times; if the store keeps refusing, hold it and keep trying in the background. */
async function keepRotated(ctx: Context, r: Renewal, token: string): Promise<RefreshNotStoredError | undefined> {
  let last: unknown
  for (let attempt = 0; attempt < r.settings.storeAttempts; attempt++) {
    if (attempt > 0) await sleep(Math.min(MAX_BACKOFF_MS, r.settings.retryDelayMs * 2 ** (attempt - 1)))
    try {
      await r.store.set(r.entry.label, token)
      unstored.delete(r.key)
      return undefined
    } catch (error) {
      last = error
    }
  }

  const error = new RefreshNotStoredError(r.entry.label, last)
  unstored.set(r.key, {token, error})
  ctx.warn(`${error.message} [${error.code}]`)
  storeLater(ctx, r, token, 0)
  return error
}

/** One more try at storing a held refresh token, later, under the token's lock; stops once it is stored or replaced by a newer one. */
function storeLater(ctx: Context, r: Renewal, token: string, attempt: number): void {
  if (attempt >= r.settings.backgroundAttempts) {
    ctx.warn(
      `Gave up storing the new refresh token of "${r.entry.label}" for now; it stays in this process's memory and is used for the next renewal. If this process ends first, sign in again with \`gptconv login\`.`,
    )
    return
  }

  const delay = Math.min(MAX_BACKOFF_MS, r.settings.retryDelayMs * 2 ** (r.settings.storeAttempts + attempt))
  const timer = setTimeout(async () => {
    try {
      const stored = await withTokenLock(ctx, r.entry, r.settings.lockWaitMs, async () => {
        if (unstored.get(r.key)?.token !== token) return false
        await r.store.set(r.entry.label, token)
        unstored.delete(r.key)
        return true
      })
      if (stored) ctx.warn(`The new refresh token of "${r.entry.label}" is stored now.`)
    } catch {
      if (unstored.get(r.key)?.token === token) storeLater(ctx, r, token, attempt + 1)
    }
  }, delay)
  // the daemon keeps running anyway; a one-shot command must not be held open by this
  timer.unref()
}

/** Whether a rotated refresh token of this token is held in memory, not yet stored (for status reports and tests). */
export function holdsUnstoredToken(ctx: Context, entry: TokenEntry): boolean {
  return unstored.has(keyOf(ctx, entry))
}

/** The cached access token of a refresh-token entry, when it is still valid for `marginMs`. */
export async function cachedAccessToken(
  ctx: Context,
  entry: TokenEntry,
  marginMs: number,
): Promise<
  {accessToken: string; expiresAt: Date; account?: string; chatgptAccountId?: string; planType?: string} | undefined
> {
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
