import {createHash} from 'node:crypto'
import {mkdir, readFile, readdir, stat, unlink} from 'node:fs/promises'
import {join} from 'node:path'

import {refuseSymlink} from '../core/paths.js'
import {writeStateFile} from '../core/state-files.js'
import type {Logger} from './logger.js'

/**
 * Stored responses (`store: true`, the Responses API's default): what the daemon needs to
 * answer `previous_response_id`, `GET /v1/responses/{id}`, `…/input_items` and `DELETE` on
 * upstreams that do not store anything themselves. One file per response under
 * `responses/<owner>/`, where the owner is a hash of the client key that made it (clients
 * with another key see none of it). Files outlive a restart, expire `responses.ttlDays`
 * after they were written, and the oldest go first when all of them exceed
 * `responses.maxMegabytes`.
 *
 * For upstreams that serve Responses themselves only the owner token is kept: response ids
 * belong to the account that made them, so a later call that names the id goes to it.
 */
export type StoredResponse = {
  id: string
  createdAt: number
  /** the Response object as the client got it (bridged responses) */
  response?: Record<string, unknown>
  /** every input item the response was made from, previous responses' included (bridged) */
  input?: Array<Record<string, unknown>>
  /** the token whose upstream made and keeps this response (native) */
  token?: string
}

/** Ids this store accepts: what gptconv and OpenAI issue, and nothing that could step out of a directory. */
const ID = /^[A-Za-z0-9][\w-]{0,199}$/

type Entry = {path: string; size: number; createdAt: number}

export class ResponseStore {
  readonly #entries = new Map<string, Entry>()
  /** records being written: a client may name a response the moment its answer arrived, before the file is there */
  readonly #writing = new Map<string, StoredResponse>()
  #bytes = 0
  #loaded: Promise<void> | undefined
  #sweeper: NodeJS.Timeout

  constructor(
    private readonly dir: string,
    private limits: {ttlMs: number; maxBytes: number},
    private readonly log: Logger,
  ) {
    this.#sweeper = setInterval(() => void this.sweep(), 3_600_000)
    this.#sweeper.unref()
  }

  /** Whose responses these are: a hash of the client key (the key itself is never written down). */
  static owner(clientKey: string): string {
    return createHash('sha256').update('gptconv-responses\u0000').update(clientKey).digest('hex').slice(0, 32)
  }

  configure(limits: {ttlMs: number; maxBytes: number}): void {
    this.limits = limits
  }

  async get(owner: string, id: string): Promise<StoredResponse | undefined> {
    if (!ID.test(id)) return undefined
    const writing = this.#writing.get(this.#key(owner, id))
    if (writing) return writing
    await this.#load()
    const entry = this.#entries.get(this.#key(owner, id))
    if (!entry) return undefined
    if (Date.now() - entry.createdAt > this.limits.ttlMs) {
      await this.#remove(this.#key(owner, id))
      return undefined
    }

    try {
      return JSON.parse(await readFile(entry.path, 'utf8')) as StoredResponse
    } catch (error) {
      this.log.warn({err: (error as Error).message}, 'a stored response cannot be read; treated as gone')
      await this.#remove(this.#key(owner, id))
      return undefined
    }
  }

  /** Keep a record; from the moment this is called (before its file is written) `get` finds it. */
  async put(owner: string, record: StoredResponse): Promise<void> {
    if (!ID.test(record.id)) return
    const key = this.#key(owner, record.id)
    this.#writing.set(key, record)
    const dir = join(this.dir, owner)
    const path = join(dir, `${record.id}.json`)
    const text = JSON.stringify(record)
    try {
      await this.#load()
      // a linked responses/ (or owner directory) would put clients' conversations wherever it points
      refuseSymlink(this.dir)
      await mkdir(dir, {recursive: true, mode: 0o700})
      refuseSymlink(dir)
      await writeStateFile(path, text)
    } catch (error) {
      this.log.error({err: (error as Error).message}, 'cannot store a response; previous_response_id will not find it')
      this.#writing.delete(key)
      return
    }

    if (this.#writing.get(key) !== record) {
      // deleted (or stored again) while it was being written
      if (!this.#writing.has(key)) await unlink(path).catch(() => {})
      return
    }

    this.#writing.delete(key)
    this.#bytes -= this.#entries.get(key)?.size ?? 0
    this.#entries.set(key, {path, size: Buffer.byteLength(text), createdAt: record.createdAt})
    this.#bytes += Buffer.byteLength(text)
    if (this.#bytes > this.limits.maxBytes) await this.#evict()
  }

  async delete(owner: string, id: string): Promise<boolean> {
    if (!ID.test(id)) return false
    const writing = this.#writing.delete(this.#key(owner, id))
    await this.#load()
    return (await this.#remove(this.#key(owner, id))) || writing
  }

  /** The stored item with this id among the owner's responses (input or output), for `item_reference`. */
  async findItem(owner: string, itemId: string): Promise<Record<string, unknown> | undefined> {
    await this.#load()
    for (const key of this.#entries.keys()) {
      if (!key.startsWith(`${owner}/`)) continue
      const record = await this.get(owner, key.slice(owner.length + 1))
      const output = (record?.response?.output as Array<Record<string, unknown>> | undefined) ?? []
      const found = [...(record?.input ?? []), ...output].find((item) => item.id === itemId)
      if (found) return found
    }

    return undefined
  }

  /** Forget what expired. */
  async sweep(): Promise<void> {
    await this.#load()
    const now = Date.now()
    for (const [key, entry] of [...this.#entries])
      if (now - entry.createdAt > this.limits.ttlMs) await this.#remove(key)
  }

  close(): void {
    clearInterval(this.#sweeper)
  }

  #key(owner: string, id: string): string {
    return `${owner}/${id}`
  }

  async #remove(key: string): Promise<boolean> {
    const entry = this.#entries.get(key)
    if (!entry) return false
    this.#entries.delete(key)
    this.#bytes -= entry.size
    await unlink(entry.path).catch(() => {})
    return true
  }

  /** The oldest go first until the rest fit in three quarters of the limit (no eviction per write at the edge). */
  async #evict(): Promise<void> {
    const oldest = [...this.#entries].sort(([, a], [, b]) => a.createdAt - b.createdAt)
    for (const [key] of oldest) {
      if (this.#bytes <= this.limits.maxBytes * 0.75) break
      await this.#remove(key)
    }
  }

  /** What is on disk, once: sizes and ages from the file system (the files are read only when asked for). */
  #load(): Promise<void> {
    this.#loaded ??= (async () => {
      let owners: string[]
      try {
        owners = await readdir(this.dir)
      } catch {
        return
      }

      for (const owner of owners) {
        const files = await readdir(join(this.dir, owner)).catch(() => [] as string[])
        for (const file of files) {
          if (!file.endsWith('.json') || !ID.test(file.slice(0, -5))) continue
          const path = join(this.dir, owner, file)
          const info = await stat(path).catch(() => undefined)
          if (!info?.isFile()) continue
          this.#entries.set(this.#key(owner, file.slice(0, -5)), {path, size: info.size, createdAt: info.mtimeMs})
          this.#bytes += info.size
        }
      }
    })()
    return this.#loaded
  }
}
