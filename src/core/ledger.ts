import {createReadStream, createWriteStream, type WriteStream} from 'node:fs'
import {createInterface} from 'node:readline'

/** One finished request (SPEC §2). Token counts are estimated with the tokenizer when the upstream reported none. */
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
 * daemon only. Each record is one small `write` on an O_APPEND descriptor.
 */
export class LedgerWriter {
  readonly #stream: WriteStream
  #pending = ''

  constructor(path: string) {
    this.#stream = createWriteStream(path, {flags: 'a', mode: 0o600})
    this.#stream.on('error', () => {}) // a full disk must not crash the daemon; records are lost, requests are not
  }

  /** Records of one event-loop turn go out in one write. */
  append(record: UsageRecord): void {
    if (this.#pending === '') setImmediate(() => this.#flush())
    this.#pending += JSON.stringify(record) + '\n'
  }

  #flush(): void {
    if (this.#pending === '') return
    this.#stream.write(this.#pending)
    this.#pending = ''
  }

  close(): Promise<void> {
    this.#flush()
    return new Promise((resolve) => this.#stream.end(resolve))
  }
}

/** Records since `since` (ms epoch). Lines that do not parse are skipped: a crash may leave a partial last line. */
export async function readLedger(path: string, since = 0): Promise<UsageRecord[]> {
  const records: UsageRecord[] = []
  const input = createReadStream(path, {encoding: 'utf8'})
  try {
    for await (const line of createInterface({input, crlfDelay: Infinity})) {
      if (!line) continue
      try {
        const record = JSON.parse(line) as UsageRecord
        if (Date.parse(record.ts) >= since) records.push(record)
      } catch {
        // partial or damaged line
      }
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }

  return records
}
