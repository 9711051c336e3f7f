import type {Context} from './context.js'
import {UsageError} from './errors.js'
import {type UsageRecord, readLedger} from './ledger.js'
import {usePriceData} from './price-data.js'
import {Pricer, roundUsd} from './pricing.js'

/** `gptconv usage`: the ledger grouped by token, model or day, with cost estimates. */

export const GROUPS = ['token', 'model', 'day'] as const
export type Group = (typeof GROUPS)[number]

export type UsageRow = {
  key: string
  requests: number
  errors: number
  prompt_tokens: number
  completion_tokens: number
  /** of prompt_tokens, served from the prompt cache (0 for records that do not say) */
  cached_tokens: number
  /** of completion_tokens, spent on reasoning */
  reasoning_tokens: number
  total_tokens: number
  estimated_requests: number
  /** requests of models with no known price: `cost_usd` leaves them out */
  unpriced_requests: number
  cost_usd: number
}
export type UsageReport = {since: string; by: Group; rows: UsageRow[]; total: Omit<UsageRow, 'key'>; unpriced: string[]}

const UNITS: Record<string, number> = {m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000}

/** `7d`, `24h`, `30m`, `2w`, or a date / ISO timestamp. */
export function parseSince(value: string, now = Date.now()): Date {
  const relative = /^(\d+)\s*([mhdw])$/i.exec(value.trim())
  if (relative) return new Date(now - Number(relative[1]) * UNITS[relative[2].toLowerCase()])
  const date = Date.parse(value)
  if (!Number.isNaN(date)) return new Date(date)
  throw new UsageError(`--since takes a duration like 7d, 24h, 30m or 2w, or a date like 2026-01-31, not "${value}".`)
}

const keyOf = (r: UsageRecord, by: Group) =>
  by === 'day' ? r.ts.slice(0, 10) : by === 'token' ? r.token : r.model || '(unknown)'

/** A record with what it cost; undefined when its model has no price. */
type Priced = {record: UsageRecord; usd: number | undefined}

function totals(list: readonly Priced[]): Omit<UsageRow, 'key'> {
  const sum = (f: (p: Priced) => number) => list.reduce((n, p) => n + f(p), 0)
  const prompt = sum((p) => p.record.prompt_tokens)
  const completion = sum((p) => p.record.completion_tokens)
  return {
    requests: list.length,
    errors: sum((p) => (p.record.status === 200 ? 0 : 1)),
    prompt_tokens: prompt,
    completion_tokens: completion,
    cached_tokens: sum((p) => Math.min(p.record.cached_tokens ?? 0, p.record.prompt_tokens)),
    reasoning_tokens: sum((p) => Math.min(p.record.reasoning_tokens ?? 0, p.record.completion_tokens)),
    total_tokens: prompt + completion,
    estimated_requests: sum((p) => (p.record.estimated ? 1 : 0)),
    unpriced_requests: sum((p) => (p.usd === undefined ? 1 : 0)),
    cost_usd: roundUsd(
      sum((p) => p.usd ?? 0),
      6,
    ),
  }
}

export async function usageReport(ctx: Context, options: {since: Date; by: Group}): Promise<UsageReport> {
  const records = await readLedger(ctx.paths.ledger, options.since.getTime(), ctx.warn)
  await usePriceData(ctx)
  const pricer = new Pricer(ctx.config.read().prices)
  const priced = records.map((record) => ({record, usd: pricer.cost(record)}))
  const groups = new Map<string, Priced[]>()
  for (const p of priced) {
    const key = keyOf(p.record, options.by)
    const list = groups.get(key)
    if (list) list.push(p)
    else groups.set(key, [p])
  }

  const rows = [...groups].map(([key, list]) => ({key, ...totals(list)}))
  rows.sort((a, b) =>
    options.by === 'day' ? a.key.localeCompare(b.key) : b.total_tokens - a.total_tokens || a.key.localeCompare(b.key),
  )
  return {since: options.since.toISOString(), by: options.by, rows, total: totals(priced), unpriced: pricer.unpriced}
}
