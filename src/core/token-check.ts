import type {Settings, TokenEntry, TokenKind} from './config.js'
import type {Context} from './context.js'
import {GptconvError} from './errors.js'
import {accessTokenInfo} from './jwt.js'
import {own} from './own.js'
import {blockOf, entriesFor, readSecret} from './tokens.js'
import type {CheckOutcome} from './upstream-check.js'

/** `gptconv tokens refresh` and what else needs a live access token: checks and renewals of stored tokens. */

export type CheckResult = CheckOutcome & {label: string; kind: TokenKind; upstream: string}

/**
 * Check tokens now (`gptconv tokens refresh`): api-keys with `GET {upstream}/models`,
 * access tokens by their expiry. `onStart`/`onDone` drive a spinner per token.
 */
export async function checkTokens(
  ctx: Context,
  labels: string[],
  hooks: {onStart?: (label: string) => void; onDone?: (result: CheckResult) => void} = {},
): Promise<CheckResult[]> {
  const settings = ctx.config.read()
  const results: CheckResult[] = []
  const entries = entriesFor(settings.tokens, labels)
  // while a daemon runs, it alone rotates refresh tokens: ask it
  const {runningDaemon} = await import('./daemon-file.js')
  const daemon = entries.some((e) => e.kind === 'refresh-token') ? await runningDaemon(ctx) : undefined
  for (const entry of entries) {
    hooks.onStart?.(entry.label)
    const outcome = await checkOne(ctx, settings, entry, daemon?.info.origin)
    const result = {label: entry.label, kind: entry.kind, upstream: entry.upstream, ...outcome}
    hooks.onDone?.(result)
    results.push(result)
  }

  return results
}

async function checkOne(
  ctx: Context,
  settings: Settings,
  entry: TokenEntry,
  daemonOrigin: string | undefined,
): Promise<CheckOutcome> {
  const upstream = own(settings.upstreams, entry.upstream)
  if (!upstream)
    return {ok: false, status: 'error', detail: `its upstream "${entry.upstream}" is not configured any more`}
  const block = blockOf(ctx, entry)
  if (block) return {ok: false, status: 'blocked', detail: block.reason}
  if (entry.kind === 'refresh-token') return renewOne(ctx, entry, upstream, daemonOrigin)
  let secret: string
  try {
    secret = await readSecret(ctx, entry)
  } catch (error) {
    return {ok: false, status: 'error', detail: (error as Error).message}
  }

  switch (entry.kind) {
    case 'api-key': {
      const {checkApiKey} = await import('./upstream-check.js')
      return checkApiKey(upstream.baseUrl, secret, settings.pool.connectTimeoutMs + 5000)
    }

    case 'access-token': {
      const {expiresAt} = accessTokenInfo(secret)
      if (expiresAt.getTime() <= Date.now())
        return {ok: false, status: 'expired', detail: `expired at ${expiresAt.toISOString()}`}
      const timeoutMs = settings.pool.connectTimeoutMs + 5000
      if (upstream.protocol === 'codex')
        return checkPlanAccessToken(upstream.baseUrl, secret, entry.chatgptAccountId, expiresAt, timeoutMs)
      const {checkWebAccessToken} = await import('./upstream-check.js')
      const check = await checkWebAccessToken(upstream.baseUrl, secret, timeoutMs)
      return check.ok ? {...check, detail: `${check.detail}; valid until ${expiresAt.toISOString()}`} : check
    }
  }
}

/** A ChatGPT-plan access token is valid when the plan's usage endpoint answers for it. */
async function checkPlanAccessToken(
  baseUrl: string,
  token: string,
  accountId: string | undefined,
  expiresAt: Date,
  timeoutMs: number,
): Promise<CheckOutcome> {
  const {fetchPlanLimits, describeLimits} = await import('./codex-limits.js')
  try {
    const limits = await fetchPlanLimits(baseUrl, token, accountId, timeoutMs)
    return {
      ok: true,
      status: 'valid',
      detail: `the ChatGPT plan accepts it (${describeLimits(limits.windows)}); valid until ${expiresAt.toISOString()}`,
    }
  } catch (error) {
    const message = (error as Error).message
    return {ok: false, status: / HTTP 40[13]: /.test(message) ? 'invalid' : 'error', detail: message}
  }
}

/** Exchange a refresh token now — through the running daemon when there is one. */
async function renewOne(
  ctx: Context,
  entry: TokenEntry,
  upstream: Settings['upstreams'][string],
  daemonOrigin: string | undefined,
): Promise<CheckOutcome> {
  if (daemonOrigin) {
    const {clientKey} = await import('./client-key.js')
    const key = await clientKey(ctx, {create: false})
    try {
      const res = await fetch(`${daemonOrigin}/admin/tokens/${encodeURIComponent(entry.label)}/refresh`, {
        method: 'POST',
        headers: {authorization: `Bearer ${key}`},
        signal: AbortSignal.timeout(60_000),
      })
      const body = (await res.json()) as {ok?: boolean; detail?: string; error?: {message?: string}}
      if (!res.ok)
        return {
          ok: false,
          status: 'error',
          detail: `the daemon could not renew it: ${body.error?.message ?? res.status}`,
        }
      return {
        ok: Boolean(body.ok),
        status: body.ok ? 'renewed' : 'invalid',
        detail: `${body.detail ?? ''} (renewed by the running daemon)`,
      }
    } catch (error) {
      return {ok: false, status: 'error', detail: `the running daemon did not answer: ${(error as Error).message}`}
    }
  }

  const {RefreshRefusedError, renewToken} = await import('./refresh.js')
  try {
    const exchange = await renewToken(ctx, entry, upstream)
    await recordClaims(ctx, entry, exchange)
    const valid = `access token valid until ${exchange.expiresAt.toISOString()}`
    if (exchange.notStored)
      return {
        ok: false,
        status: 'error',
        detail: `${valid}, but ${exchange.notStored.message} [${exchange.notStored.code}]`,
      }
    if (exchange.shared)
      return {ok: true, status: 'renewed', detail: `${valid} (another gptconv process had just renewed it)`}
    return {
      ok: true,
      status: 'renewed',
      detail: `${valid}${exchange.refreshToken ? '; the refresh token was rotated and stored' : ''}`,
    }
  } catch (error) {
    return {
      ok: false,
      status: error instanceof RefreshRefusedError ? 'invalid' : 'error',
      detail: (error as Error).message,
    }
  }
}

/** Keep what a renewal learned about the token (expiry, ChatGPT account and plan) in its entry, when it changed. */
async function recordClaims(
  ctx: Context,
  entry: TokenEntry,
  learned: {expiresAt: Date; chatgptAccountId?: string; plan?: string},
): Promise<void> {
  const update = {
    expiresAt: learned.expiresAt.toISOString(),
    ...(learned.chatgptAccountId && {chatgptAccountId: learned.chatgptAccountId}),
    ...(learned.plan && {plan: learned.plan}),
  }
  if (Object.entries(update).every(([k, v]) => entry[k as keyof typeof update] === v)) return
  await ctx.config.update((s) => {
    const current = own(s.tokens, entry.label)
    // replaced meanwhile (`tokens add --force`, a new login): not ours to change
    if (current?.addedAt === entry.addedAt) Object.assign(current, update)
  })
}

/**
 * A valid access token for a ChatGPT token: the secret itself for an access-token; for a
 * refresh-token the cached one, else a renewal — by the running daemon when there is one
 * (it rotates this token while it runs), else here.
 */
export async function accessTokenOf(
  ctx: Context,
  entry: TokenEntry,
  upstream: Settings['upstreams'][string],
): Promise<{accessToken: string; chatgptAccountId?: string}> {
  if (entry.kind !== 'refresh-token') {
    const accessToken = await readSecret(ctx, entry)
    return {accessToken, ...(entry.chatgptAccountId && {chatgptAccountId: entry.chatgptAccountId})}
  }

  const {cachedAccessToken} = await import('./refresh.js')
  const fresh = async () => cachedAccessToken(ctx, entry, 60_000)
  let cached = await fresh()
  if (!cached) {
    const {runningDaemon} = await import('./daemon-file.js')
    const outcome = await renewOne(ctx, entry, upstream, (await runningDaemon(ctx))?.info.origin)
    cached = await fresh()
    if (!cached)
      throw new GptconvError(
        'GPTCONV_NO_ACCESS_TOKEN',
        `No valid access token for "${entry.label}": ${outcome.detail}`,
        {hint: `Check it with \`gptconv tokens refresh ${entry.label}\`.`},
      )
  }

  const chatgptAccountId = cached.chatgptAccountId ?? entry.chatgptAccountId
  return {accessToken: cached.accessToken, ...(chatgptAccountId && {chatgptAccountId})}
}
