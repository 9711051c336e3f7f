import {closeSync, createReadStream, writeSync} from 'node:fs'
import {createInterface} from 'node:readline'

import {openAppend} from './state-files.js'

/** One finished request. Token counts are estimated with the tokenizer when the upstream reported none. */
export type UsageRecord = {
  ts: string
  token: string
  upstream: string
  model: string
  endpoint: string
  prompt_tokens: number
  completion_tokens: number
  /** of prompt_tokens, served from the upstream's prompt cache (absent in records written before gptconv knew them) */
  cached_tokens?: number
  /** of completion_tokens, spent on reasoning */
  reasoning_tokens?: number
  estimated: boolean
  status: number | 'error'
  ms: number
}

/**
 * The usage ledger: an append-only JSON-lines file in the state directory, written by the
 * daemon only. Records are gathered for at most FLUSH_MS and go out in one synchronous
 * `write` on an O_APPEND descriptor: a write to the page cache costs less than handing
 * each one to libuv's thread pool (measured: ~5 µs of daemon CPU per request). Whoever
 * reads the ledger in the daemon flushes first; `close` flushes what is left.
 */
export class LedgerWriter {
  readonly #fd: number
  #pending = ''
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(path: string) {
    // opened here, not through the path: never through a link, and an old file open to others is closed to them
    this.#fd = openAppend(path)
  }

  append(record: UsageRecord): void {
    if (this.#closed) return
    this.#pending += JSON.stringify(record) + '\n'
    this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref()
  }

  /** Write what was gathered. A full disk must not crash the daemon: its records are lost, requests are not. */
  flush(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#pending === '') return
    const bytes = Buffer.from(this.#pending)
    this.#pending = ''
    try {
      for (let at = 0; at < bytes.length;) at += writeSync(this.#fd, bytes, at)
    } catch {
      // the records of this batch are lost
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.flush()
    this.#closed = true
    closeSync(this.#fd)
  }
}

/** The longest a record waits in memory before it is written. */
const FLUSH_MS = 20

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0

/** What is wrong with a parsed ledger line, or undefined when it is a usable record. */
export function recordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object'
  const r = value as Record<string, unknown>
  if (typeof r.ts !== 'string' || Number.isNaN(Date.parse(r.ts))) return '`ts` is not a timestamp'
  for (const key of ['token', 'upstream', 'model', 'endpoint'])
    if (typeof r[key] !== 'string') return `\`${key}\` is not a string`
  for (const key of ['prompt_tokens', 'completion_tokens', 'ms'])
    if (!isCount(r[key])) return `\`${key}\` is not a non-negative number`
  // absent in records written before gptconv knew them; null is read as absent too
  for (const key of ['cached_tokens', 'reasoning_tokens'])
    if (r[key] !== undefined && r[key] !== null && !isCount(r[key])) return `\`${key}\` is not a non-negative number`
  if (typeof r.estimated !== 'boolean') return '`estimated` is not a boolean'
  if (typeof r.status !== 'number' && r.status !== 'error') return '`status` is neither a number nor "error"'
  return undefined
}

function usable(value: Record<string, unknown>): UsageRecord {
  const record = {...value}
  for (const key of ['cached_tokens', 'reasoning_tokens']) if (record[key] === null) delete record[key]
  return record as UsageRecord
}

/**
 * Records since `since` (ms epoch). A line that is not a usable record (a crash may leave a
 * partial last line; a hand edit or an old bug may leave a wrong type) is skipped, and
 * `warn` hears once how many were skipped and why, so one bad line cannot hide the others.
 */
export async function readLedger(path: string, since = 0, warn?: (message: string) => void): Promise<UsageRecord[]> {
  const records: UsageRecord[] = []
  const skipped: string[] = []
  const input = createReadStream(path, {encoding: 'utf8'})
  let line = 0
  try {
    for await (const text of createInterface({input, crlfDelay: Infinity})) {
      line++
      if (!text) continue
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch {
        skipped.push(`line ${line}: not JSON`)
        continue
      }

      const problem = recordProblem(value)
      if (problem) skipped.push(`line ${line}: ${problem}`)
      else if (Date.parse((value as UsageRecord).ts) >= since) records.push(usable(value as Record<string, unknown>))
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }

  if (skipped.length > 0)
    warn?.(
      `Skipped ${skipped.length} unreadable record${skipped.length === 1 ? '' : 's'} in ${path} (${skipped.slice(0, 3).join('; ')}${skipped.length > 3 ? '; …' : ''}).`,
    )
  return records
}
