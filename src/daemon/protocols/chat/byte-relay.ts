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
const EMPTY = Buffer.alloc(0)

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

  /**
   * The complete events of this chunk, as they go to the client (a remainder waits for the
   * next chunk). Each search runs once over the whole chunk, not once per event: most
   * events go on untouched, and only those with a `"usage":` key are cut out.
   */
  push(chunk: Buffer): Buffer {
    const input = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk
    this.#pending = undefined
    if (input.includes(CR)) {
      this.fallback = true
      return input
    }

    const last = input.lastIndexOf(BOUNDARY)
    const whole = last === -1 ? 0 : last + 2 // the complete events are input[0, whole)
    if (whole < input.length) this.#pending = whole === 0 ? input : Buffer.from(input.subarray(whole))
    if (whole === 0) return EMPTY
    if (!this.sawDone) this.sawDone = startsAnEvent(input, DONE, whole)
    if (!this.sawFinish) {
      const at = input.indexOf(FINISH)
      this.sawFinish = at !== -1 && at < whole
    }

    this.#keep(input, whole)
    // the pieces that go on: whole runs of events as they came, cut only around what changes
    let out: Buffer[] | undefined
    let kept = 0
    let at = input.indexOf(USAGE_KEY)
    while (at !== -1 && at < whole) {
      const before = input.lastIndexOf(BOUNDARY, at)
      const start = before === -1 ? 0 : before + 2
      const end = input.indexOf(BOUNDARY, at) + 2
      const event = input.subarray(start, end)
      const changed =
        input[at + USAGE_KEY.length] === 0x7b
          ? this.#usage(event)
          : this.wantUsage
            ? event
            : withoutNullUsage(event, at - start)
      if (changed !== event) {
        out ??= []
        if (kept < start) out.push(input.subarray(kept, start))
        if (Array.isArray(changed)) out.push(...changed)
        else if (changed) out.push(changed)
        kept = end
      }

      at = input.indexOf(USAGE_KEY, end)
    }

    if (!out) return whole === input.length ? input : input.subarray(0, whole)
    if (kept < whole) out.push(input.subarray(kept, whole))
    return Buffer.concat(out)
  }

  /** What is left when the upstream ends: a last event without its blank line still counts. */
  end(): Buffer {
    const rest = this.#pending
    this.#pending = undefined
    if (!rest || rest.every((b) => b === 0x0a || b === 0x20)) return EMPTY
    return this.push(Buffer.concat([rest, BOUNDARY]))
  }

  /** The answer's text so far (usage estimates when the upstream reports none). */
  text(): string {
    if (!this.#kept) return ''
    const events = Buffer.concat(this.#kept).toString('utf8').split('\n\n')
    return keptText(events.map((event) => event.replace(/^data: /, '').trim()))
  }

  /** Keeps the raw events for usage estimates, until the upstream reports usage or they grow past KEEP_LIMIT. */
  #keep(input: Buffer, whole: number): void {
    if (!this.#kept) return
    this.#keptSize += whole
    if (this.#keptSize > KEEP_LIMIT) this.#kept = undefined
    else this.#kept.push(whole === input.length ? input : input.subarray(0, whole))
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

/** Whether `marker` begins one of the events in input[0, limit) (not merely appears inside one). */
function startsAnEvent(input: Buffer, marker: Buffer, limit: number): boolean {
  for (let at = input.indexOf(marker); at !== -1 && at < limit; at = input.indexOf(marker, at + 1)) {
    if (at === 0 || (input[at - 1] === 0x0a && input[at - 2] === 0x0a)) return true
  }

  return false
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
