import type {Context} from './context.js'
import {UsageError} from './errors.js'
import {type UsageRecord, readLedger} from './ledger.js'
import {costOf} from './pricing.js'

/** `gptconv usage`: the ledger grouped by token, model or day, with cost estimates. */

export const GROUPS = ['token', 'model', 'day'] as const
export type Group = (typeof GROUPS)[number]

export type UsageRow = {key: string; requests: number; errors: number; prompt_tokens: number; completion_tokens: number; total_tokens: number; estimated_requests: number; cost_usd: number}
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

const keyOf = (r: UsageRecord, by: Group) => (by === 'day' ? r.ts.slice(0, 10) : by === 'token' ? r.token : r.model || '(unknown)')

async function totals(records: UsageRecord[]): Promise<Omit<UsageRow, 'key'>> {
  const prompt = records.reduce((n, r) => n + r.prompt_tokens, 0)
  const completion = records.reduce((n, r) => n + r.completion_tokens, 0)
  return {
    requests: records.length,
    errors: records.filter((r) => r.status !== 200).length,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    estimated_requests: records.filter((r) => r.estimated).length,
    cost_usd: Math.round((await costOf(records)).usd * 1e6) / 1e6,
  }
}

export async function usageReport(ctx: Context, options: {since: Date; by: Group}): Promise<UsageReport> {
  const records = await readLedger(ctx.paths.ledger, options.since.getTime())
  const groups = new Map<string, UsageRecord[]>()
  for (const r of records) {
    const key = keyOf(r, options.by)
    groups.set(key, [...(groups.get(key) ?? []), r])
  }

  const rows = await Promise.all([...groups].map(async ([key, list]) => ({key, ...(await totals(list))})))
  rows.sort((a, b) => (options.by === 'day' ? a.key.localeCompare(b.key) : b.total_tokens - a.total_tokens || a.key.localeCompare(b.key)))
  return {since: options.since.toISOString(), by: options.by, rows, total: await totals(records), unpriced: (await costOf(records)).unpriced}
}
