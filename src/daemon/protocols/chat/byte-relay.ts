import {DONE_EVENT, type SseEvent, SseParser} from '../../sse.js'
import type {Relay, WireError} from '../codec.js'
import {SseRelay, chatStreamError, keptText} from './relay.js'
import type {ChatUsage} from './types.js'

/**
 * The fast path of a chat (or legacy) stream to a client of the same wire: the upstream's
 * bytes go on as they came, cut at event boundaries (`\n\n`) with native Buffer searches,
 * never decoded but for the usage chunk. What gptconv must do to the stream is done on the
 * bytes: the usage chunk (gptconv always asks for it) is read, and dropped together with
 * the `"usage":null` fields of the other chunks when the client did not ask for usage.
 * An upstream that ends lines with `\r` is handed back (`fallback`) to the string relay.
 */

const BOUNDARY = Buffer.from('\n\n')
const CR = 0x0d
const DONE = Buffer.from('data: [DONE]')
const USAGE_KEY = Buffer.from('"usage":')
const NULL_USAGE = Buffer.from('"usage":null')
const FINISH = Buffer.from('"finish_reason":"')
/** Keep at most this much raw stream for usage estimates when the upstream reports no usage. */
const KEEP_LIMIT = 1024 * 1024

export class ByteRelay {
  usage: ChatUsage | undefined
  sawDone = false
  sawFinish = false
  /** the stream uses CR line ends: the caller relays it as text instead */
  fallback = false
  #pending: Buffer | undefined
  #kept: Buffer[] | undefined = []
  #keptSize = 0

  constructor(private readonly wantUsage: boolean) {}

  get finished(): boolean {
    return this.sawDone || this.sawFinish
  }

  /** The complete events of this chunk, as they go to the client (a remainder waits for the next chunk). */
  push(chunk: Buffer): Buffer {
    const input = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk
    this.#pending = undefined
    if (input.includes(CR)) {
      this.fallback = true
      return input
    }

    // the pieces that go on: whole runs of events as they came, cut only around what is dropped
    const out: Buffer[] = []
    let start = 0
    let kept = 0
    for (let end = input.indexOf(BOUNDARY, start); end !== -1; end = input.indexOf(BOUNDARY, start)) {
      const event = input.subarray(start, end + 2)
      const changed = this.#event(event)
      if (changed !== event) {
        if (kept < start) out.push(input.subarray(kept, start))
        if (changed) out.push(...(changed as Buffer[]))
        kept = end + 2
      }

      start = end + 2
    }

    if (kept < start) out.push(input.subarray(kept, start))
    if (start < input.length) this.#pending = start === 0 ? input : Buffer.from(input.subarray(start))
    return out.length === 1 ? out[0] : Buffer.concat(out)
  }

  /** What is left when the upstream ends: a last event without its blank line still counts. */
  end(): Buffer {
    const rest = this.#pending
    this.#pending = undefined
    if (!rest || rest.every((b) => b === 0x0a || b === 0x20)) return Buffer.alloc(0)
    const event = Buffer.concat([rest, BOUNDARY])
    const changed = this.#event(event)
    return changed === event ? event : changed ? Buffer.concat(changed as Buffer[]) : Buffer.alloc(0)
  }

  /** The answer's text so far (usage estimates when the upstream reports none). */
  text(): string {
    return this.#kept
      ? keptText(
          this.#kept.map((b) =>
            b
              .toString('utf8')
              .replace(/^data: /, '')
              .trim(),
          ),
        )
      : ''
  }

  /** One event: itself when it goes on unchanged, else the pieces that go on instead (none: dropped). */
  #event(event: Buffer): Buffer | Buffer[] | undefined {
    if (!this.sawDone && event.subarray(0, DONE.length).equals(DONE)) {
      this.sawDone = true
      return event
    }

    let out: Buffer | Buffer[] | undefined = event
    const usage = event.indexOf(USAGE_KEY)
    if (usage !== -1) {
      if (event[usage + USAGE_KEY.length] === 0x7b) {
        const kept = this.#usage(event)
        if (kept === undefined) return undefined
        out = kept
      } else if (!this.wantUsage) out = withoutNullUsage(event, usage)
    }

    if (!this.sawFinish && event.includes(FINISH)) this.sawFinish = true
    if (this.#kept) {
      this.#keptSize += event.length
      if (this.#keptSize > KEEP_LIMIT) this.#kept = undefined
      else this.#kept.push(event)
    }

    return out
  }

  /** A chunk with a usage object: read it; what goes on (undefined: the usage-only chunk the client did not ask for). */
  #usage(event: Buffer): Buffer | Buffer[] | undefined {
    const text = event.toString('utf8')
    const data = text.slice(text.indexOf('data:') + 5).trim()
    let chunk: {usage?: ChatUsage; choices?: unknown[]}
    try {
      chunk = JSON.parse(data) as typeof chunk
    } catch {
      return event
    }

    if (typeof chunk.usage?.prompt_tokens === 'number') {
      this.usage = chunk.usage
      this.#kept = undefined
    }

    if (this.wantUsage) return event
    if (!chunk.choices || chunk.choices.length === 0) return undefined
    delete chunk.usage
    return [Buffer.from(`data: ${JSON.stringify(chunk)}\n\n`)]
  }
}

/** The event without its `"usage":null` field (what OpenAI sends in every chunk once usage is asked for), as pieces; `at` is where `"usage":` begins. */
function withoutNullUsage(event: Buffer, at: number): Buffer | Buffer[] {
  const end = at + NULL_USAGE.length
  if (!event.subarray(at, end).equals(NULL_USAGE)) return event
  if (event[at - 1] === 0x2c) return [event.subarray(0, at - 1), event.subarray(end)] // ,"usage":null
  if (event[end] === 0x2c) return [event.subarray(0, at), event.subarray(end + 1)] // "usage":null,
  return event
}

/**
 * The Relay of a chat or legacy stream passed through: bytes first (ByteRelay), the string
 * relay for the rest of a stream once it turns out to use CR line ends.
 */
export class ChatPassthrough implements Relay {
  readonly #bytes: ByteRelay
  #text: SseRelay | undefined
  #parser: SseParser | undefined

  constructor(private readonly wantUsage: boolean) {
    this.#bytes = new ByteRelay(wantUsage)
  }

  get usage(): ChatUsage | undefined {
    return this.#text?.usage ?? this.#bytes.usage
  }

  get finished(): boolean {
    return this.#bytes.finished || Boolean(this.#text?.finished)
  }

  bytes(chunk: Buffer): Buffer | string {
    if (this.#text) return this.#text.process(this.#parser!.push(chunk))
    const out = this.#bytes.push(chunk)
    if (!this.#bytes.fallback) return out
    this.#text = new SseRelay(this.wantUsage)
    this.#parser = new SseParser()
    return this.#text.process(this.#parser.push(out))
  }

  bytesEnd(): Buffer | string {
    return this.#text ? this.#text.process(this.#parser!.end()) : this.#bytes.end()
  }

  process(events: readonly SseEvent[]): string {
    this.#text ??= new SseRelay(this.wantUsage)
    return this.#text.process(events)
  }

  end(): string {
    return this.#bytes.sawDone || this.#text?.sawDone ? '' : DONE_EVENT
  }

  text(): string {
    return this.#text ? this.#text.text() : this.#bytes.text()
  }

  fail(error: WireError): string {
    return chatStreamError(error)
  }
}
