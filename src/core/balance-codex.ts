import type {BalanceWindow, TokenBalance} from './balance.js'
import type {TokenEntry, UpstreamConfig} from './config.js'
import type {Context} from './context.js'
import {fetchPlanLimits} from './codex-limits.js'
import {errorMessage} from './errors.js'
import {own} from './own.js'
import {readRuntimeState} from './runtime-state.js'
import {accessTokenOf} from './token-check.js'

/**
 * A ChatGPT plan has no balance in USD: what is left of it are its usage windows. They come
 * from the runtime state (the daemon records what the backend reports with every answer),
 * else from the backend's usage endpoint, asked now with the token's access token.
 */
export async function codexBalance(
  ctx: Context,
  entry: TokenEntry,
  upstream: UpstreamConfig,
  window: BalanceWindow,
  timeoutMs: number,
): Promise<TokenBalance> {
  const base = {
    label: entry.label,
    grantedUsd: null,
    usedUsd: null,
    balanceUsd: null,
    window,
    estimated: false,
    refused: [],
  }
  const runtime = own(readRuntimeState(ctx.paths.runtime).tokens, entry.label)
  const recorded = runtime?.addedAt === entry.addedAt ? runtime.limits : undefined
  try {
    const limits = recorded ?? (await live(ctx, entry, upstream, timeoutMs))
    const plan = limits.plan ?? entry.plan
    return {...base, source: 'codex-limits', ...(plan && {plan}), limits: limits.windows, limitsSeenAt: limits.seenAt}
  } catch (error) {
    return {...base, source: null, ...(entry.plan && {plan: entry.plan}), error: errorMessage(error)}
  }
}

async function live(ctx: Context, entry: TokenEntry, upstream: UpstreamConfig, timeoutMs: number) {
  const {accessToken, chatgptAccountId} = await accessTokenOf(ctx, entry, upstream)
  return fetchPlanLimits(upstream.baseUrl, accessToken, chatgptAccountId, timeoutMs)
}
