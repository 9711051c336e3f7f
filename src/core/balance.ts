import type {TokenEntry, UpstreamConfig} from './config.js'
import type {Context} from './context.js'
import {NotFoundError, UsageError, errorMessage} from './errors.js'
import {type UsageRecord, readLedger} from './ledger.js'
import {redact} from './mask.js'
import {own} from './own.js'
import {usePriceData} from './price-data.js'
import {type PriceOverrides, costOf, setPriceHint} from './pricing.js'
import type {PlanLimits} from './runtime-state.js'
import {readSecret} from './tokens.js'
import {describeNetworkError, httpGet, upstreamMessage} from './upstream-check.js'

/**
 * `gptconv balance`: granted minus used over a window, per api-key, from the first source
 * that answers, in the order OpenAI-style billing checkers ask:
 * 1. `/dashboard/billing/subscription` (`hard_limit_usd`, USD) + `/dashboard/billing/usage`
 *    (`total_usage`, in US **cents**), with and without the `/v1` prefix; the usage window
 *    is at most 100 days per call, so longer windows are summed over several calls;
 * 2. `/dashboard/billing/credit_grants` (`total_granted`, `total_used`, USD);
 * 3. the token's `--granted-usd` minus the local ledger's cost (see pricing.ts), estimated;
 *    usage of models with no known price is left out and the models are named.
 * A refused source (OpenAI itself answers 403 "session key required" since 2023) is
 * reported and the next one tried. Tokens of a ChatGPT plan (codex upstreams) have no USD
 * balance: their plan's usage windows are reported instead (balance-codex.ts).
 */

export type BalanceSource = 'subscription' | 'credit_grants' | 'ledger' | 'codex-limits'

export type BalanceWindow = {start: string; end: string}

export type TokenBalance = {
  label: string
  source: BalanceSource | null
  grantedUsd: number | null
  usedUsd: number | null
  balanceUsd: number | null
  window: {start: string; end: string}
  estimated: boolean
  /** why a token has no answer, or what the estimate leaves out */
  error?: string
  /** each source tried before the one that answered, and why it did not */
  refused: Array<{source: BalanceSource; reason: string}>
  /** ledger estimates only: models used with no known price, whose usage `usedUsd` leaves out */
  unpricedModels?: string[]
  /** ChatGPT-plan tokens (source codex-limits, USD amounts null): the plan, its usage windows and when they were seen */
  plan?: string
  limits?: PlanLimits['windows']
  limitsSeenAt?: string
}

/** Sums over the tokens that got an answer; null when none did (unknown, not zero). */
export type BalanceReport = {
  tokens: TokenBalance[]
  total: {grantedUsd: number | null; usedUsd: number | null; balanceUsd: number | null}
}

const DAY = 86_400_000
export const MAX_WINDOW_DAYS = 100

const ymd = (ms: number) => new Date(ms).toISOString().slice(0, 10)

/** [today − days, tomorrow] in UTC dates, as billing checkers ask (the end date is exclusive). */
export function billingWindow(
  days: number,
  now = Date.now(),
): {start: string; end: string; startMs: number; endMs: number} {
  const today = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate())
  const startMs = today - days * DAY
  const endMs = today + DAY
  return {start: ymd(startMs), end: ymd(endMs), startMs, endMs}
}

/** Consecutive windows of at most 100 days covering [startMs, endMs). */
export function splitWindow(startMs: number, endMs: number): Array<{start: string; end: string}> {
  const parts: Array<{start: string; end: string}> = []
  for (let at = startMs; at < endMs; at += MAX_WINDOW_DAYS * DAY)
    parts.push({start: ymd(at), end: ymd(Math.min(endMs, at + MAX_WINDOW_DAYS * DAY))})
  return parts
}

/** The upstream's base with and without a trailing /v1. */
export function billingPrefixes(baseUrl: string): string[] {
  const base = baseUrl.replace(/\/+$/, '')
  const root = base.replace(/\/v1$/, '')
  return [...new Set([`${root}/v1`, root])]
}

class SourceError extends Error {}

async function getJson(url: string, secret: string, timeoutMs: number): Promise<Record<string, unknown>> {
  let answer: {status: number; text: string}
  try {
    answer = await httpGet(
      url,
      {authorization: `Bearer ${secret}`, accept: 'application/json', 'user-agent': 'gptconv/0.1'},
      timeoutMs,
    )
  } catch (error) {
    throw new SourceError(`cannot reach ${new URL(url).host}: ${redact(describeNetworkError(error), [secret])}`)
  }

  const {status, text} = answer
  const path = new URL(url).pathname
  if (status !== 200)
    throw new SourceError(`${path} answered ${status}: ${upstreamMessage(text, [secret]) || 'no message'}`)
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    throw new SourceError(`${path} answered with something that is not JSON`)
  }

  // one-api and new-api answer errors with HTTP 200 and an `error` object
  const error = (data as {error?: unknown})?.error
  if (error) throw new SourceError(`${path} answered an error: ${upstreamMessage(text, [secret])}`)
  if (typeof data !== 'object' || data === null) throw new SourceError(`${path} answered no object`)
  return data as Record<string, unknown>
}

function money(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new SourceError(`the answer has no numeric ${what}`)
  return value
}

const round = (usd: number) => Math.round(usd * 1e6) / 1e6

async function fromSubscription(
  upstream: UpstreamConfig,
  secret: string,
  window: ReturnType<typeof billingWindow>,
  timeoutMs: number,
): Promise<{granted: number; used: number}> {
  const reasons: string[] = []
  for (const prefix of billingPrefixes(upstream.baseUrl)) {
    try {
      const subscription = await getJson(`${prefix}/dashboard/billing/subscription`, secret, timeoutMs)
      const granted = money(subscription.hard_limit_usd, 'hard_limit_usd')
      let cents = 0
      for (const part of splitWindow(window.startMs, window.endMs)) {
        const usage = await getJson(
          `${prefix}/dashboard/billing/usage?start_date=${part.start}&end_date=${part.end}`,
          secret,
          timeoutMs,
        )
        cents += money(usage.total_usage, 'total_usage')
      }

      return {granted, used: cents / 100}
    } catch (error) {
      if (!(error instanceof SourceError)) throw error
      reasons.push(error.message)
    }
  }

  throw new SourceError(unique(reasons))
}

async function fromCreditGrants(
  upstream: UpstreamConfig,
  secret: string,
  timeoutMs: number,
): Promise<{granted: number; used: number}> {
  const reasons: string[] = []
  for (const prefix of billingPrefixes(upstream.baseUrl)) {
    try {
      const grants = await getJson(`${prefix}/dashboard/billing/credit_grants`, secret, timeoutMs)
      return {granted: money(grants.total_granted, 'total_granted'), used: money(grants.total_used, 'total_used')}
    } catch (error) {
      if (!(error instanceof SourceError)) throw error
      reasons.push(error.message)
    }
  }

  throw new SourceError(unique(reasons))
}

/** Both billing paths (with and without /v1) often fail the same way: say it once. */
const unique = (reasons: string[]) => [...new Set(reasons)].join('; ')

type Answer = {granted: number; used: number; unpriced?: string[]}

async function fromLedger(
  entry: TokenEntry,
  window: ReturnType<typeof billingWindow>,
  prices: PriceOverrides,
  ledger: () => Promise<UsageRecord[]>,
): Promise<Answer> {
  if (entry.grantedUsd === undefined)
    throw new SourceError(`no --granted-usd for this token (gptconv tokens add ${entry.label} --granted-usd X --force)`)
  const records = (await ledger()).filter((r) => r.token === entry.label && Date.parse(r.ts) < window.endMs)
  const cost = costOf(records, prices)
  return {granted: entry.grantedUsd, used: cost.usd, ...(cost.unpriced.length > 0 && {unpriced: cost.unpriced})}
}

/** What an estimate leaves out, and how to put it in. */
export function unpricedNote(models: readonly string[]): string {
  return `no price known for ${models.join(', ')}: ${models.length === 1 ? 'its' : 'their'} usage is not counted (set a price with \`${setPriceHint(models)}\`, USD per million tokens)`
}

/** Each reason once, with the sources it stopped: a host that cannot be reached stops them all alike. */
export function refusalsByReason(refused: TokenBalance['refused']): Array<{sources: string; reason: string}> {
  const byReason = new Map<string, string[]>()
  for (const r of refused) byReason.set(r.reason, [...(byReason.get(r.reason) ?? []), r.source])
  return [...byReason].map(([reason, sources]) => ({sources: sources.join(', '), reason}))
}

const failureText = (refused: TokenBalance['refused']) =>
  refusalsByReason(refused)
    .map((r) => `${r.sources}: ${r.reason}`)
    .join(' | ')

/**
 * One api-key's balance in the window: from the upstream's billing endpoints, else granted
 * minus the ledger's cost. `ledger` reads the window's usage records (once for all tokens).
 */
async function tokenBalance(
  ctx: Context,
  entry: TokenEntry,
  upstream: UpstreamConfig,
  window: ReturnType<typeof billingWindow>,
  options: {timeoutMs: number; prices: PriceOverrides; ledger: () => Promise<UsageRecord[]>},
): Promise<TokenBalance> {
  const {timeoutMs, prices} = options
  const base = {label: entry.label, window: {start: window.start, end: window.end}}
  const refused: TokenBalance['refused'] = []
  const answer = (source: BalanceSource, r: Answer): TokenBalance => ({
    ...base,
    source,
    grantedUsd: round(r.granted),
    usedUsd: round(r.used),
    balanceUsd: round(r.granted - r.used),
    estimated: source === 'ledger',
    ...(r.unpriced && {error: unpricedNote(r.unpriced)}),
    refused,
    ...(r.unpriced && {unpricedModels: r.unpriced}),
  })

  let secret: string | undefined
  try {
    secret = await readSecret(ctx, entry)
  } catch (error) {
    refused.push(
      {source: 'subscription', reason: errorMessage(error)},
      {source: 'credit_grants', reason: errorMessage(error)},
    )
  }

  if (secret !== undefined) {
    for (const [source, fetch] of [
      ['subscription', () => fromSubscription(upstream, secret, window, timeoutMs)],
      ['credit_grants', () => fromCreditGrants(upstream, secret, timeoutMs)],
    ] as const) {
      try {
        return answer(source, await fetch())
      } catch (error) {
        if (!(error instanceof SourceError)) throw error
        refused.push({source, reason: error.message})
      }
    }
  }

  try {
    return answer('ledger', await fromLedger(entry, window, prices, options.ledger))
  } catch (error) {
    if (!(error instanceof SourceError)) throw error
    refused.push({source: 'ledger', reason: error.message})
  }

  return {
    ...base,
    source: null,
    grantedUsd: null,
    usedUsd: null,
    balanceUsd: null,
    estimated: false,
    error: failureText(refused),
    refused,
  }
}

/** Balances of the given api-key tokens (all api-keys when none are named). */
export async function balances(
  ctx: Context,
  labels: string[],
  days: number,
  hooks: {onStart?: (label: string) => void; onDone?: (b: TokenBalance) => void} = {},
): Promise<BalanceReport> {
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    throw new UsageError('--days must be a whole number from 1 to 3650.')
  const settings = ctx.config.read()
  const unknown = labels.filter((l) => own(settings.tokens, l) === undefined)
  if (unknown.length > 0)
    throw new NotFoundError(
      'GPTCONV_TOKEN_NOT_FOUND',
      `No token labelled ${unknown.map((l) => `"${l}"`).join(', ')}.`,
      {hint: 'See `gptconv tokens list`.'},
    )
  const plan = (t: TokenEntry) => t.kind !== 'api-key' && own(settings.upstreams, t.upstream)?.protocol === 'codex'
  const entries =
    labels.length > 0
      ? [...new Set(labels)].map((l) => settings.tokens[l])
      : Object.values(settings.tokens)
          .filter((t) => t.kind === 'api-key' || plan(t))
          .sort((a, b) => a.label.localeCompare(b.label))
  await usePriceData(ctx)
  const window = billingWindow(days)
  const shown = {start: window.start, end: window.end}
  const timeoutMs = settings.pool.connectTimeoutMs + 5000
  // read once, by the first token that falls back to it: a damaged record is reported once
  let ledger: Promise<UsageRecord[]> | undefined
  const records = () => (ledger ??= readLedger(ctx.paths.ledger, window.startMs, ctx.warn))
  const tokens: TokenBalance[] = []
  for (const entry of entries) {
    hooks.onStart?.(entry.label)
    const upstream = own(settings.upstreams, entry.upstream)
    let result: TokenBalance
    if (plan(entry) && upstream)
      result = await (await import('./balance-codex.js')).codexBalance(ctx, entry, upstream, shown, timeoutMs)
    else if (entry.kind === 'api-key' && upstream)
      result = await tokenBalance(ctx, entry, upstream, window, {timeoutMs, prices: settings.prices, ledger: records})
    else
      result = {
        label: entry.label,
        source: null,
        grantedUsd: null,
        usedUsd: null,
        balanceUsd: null,
        window: shown,
        estimated: false,
        error:
          entry.kind === 'api-key'
            ? `its upstream "${entry.upstream}" is not configured`
            : `a ${entry.kind} has no billing balance; balances are for api-keys`,
        refused: [],
      }
    hooks.onDone?.(result)
    tokens.push(result)
  }

  // plan tokens answer with usage windows, not amounts: they are not in the USD totals
  const answered = tokens.filter((t) => t.grantedUsd !== null)
  const sum = (key: 'grantedUsd' | 'usedUsd' | 'balanceUsd') =>
    answered.length === 0 ? null : round(answered.reduce((n, t) => n + (t[key] ?? 0), 0))
  return {tokens, total: {grantedUsd: sum('grantedUsd'), usedUsd: sum('usedUsd'), balanceUsd: sum('balanceUsd')}}
}
