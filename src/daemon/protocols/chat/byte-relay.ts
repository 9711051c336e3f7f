import {DONE_EVENT, type SseEvent, SseParser} from '../../sse.js'
import type {Relay, WireError} from '../codec.js'
import {KEEP_LIMIT, SseRelay, chatStreamError, keptText, takeUsage} from './relay.js'
import type {ChatUsage} from './types.js'

/**
 * The fast path of a chat (or legacy) stream to a client of the same wire: the upstream's
 * bytes go on as they came, cut at event boundaries (`\n\n`), never decoded as UTF-8 but for
 * the usage chunk. What gptconv must do to the stream is done on the
 * bytes: the usage chunk (gptconv always asks for it) is read, and dropped together with
 * the `"usage":null` fields of the other chunks when the client did not ask for usage.
 * An upstream that ends lines with `\r` is handed back (`fallback`) to the string relay.
 */

const BOUNDARY = Buffer.from('\n\n')
const DONE = Buffer.from('data: [DONE]')
const USAGE_KEY = Buffer.from('"usage":')
const NULL_USAGE = Buffer.from('"usage":null')
/** the keys searched for, without their opening quote (see findKey) */
const USAGE_NAME = Buffer.from('usage":')
const FINISH_NAME = Buffer.from('finish_reason":"')
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
   * next chunk). The searches run on the bytes (no string of each read), once over the whole
   * chunk, not once per event: most events go on untouched, and only those with a `"usage":`
   * key are cut.
   */
  push(chunk: Buffer): Buffer {
    const input = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk
    this.#pending = undefined
    if (input.includes(0x0d)) {
      this.fallback = true
      return input
    }

    // the complete events are input[0, whole) (1: none); a read usually ends where an event does
    const whole = endsEvent(input, input.length) ? input.length : input.lastIndexOf(BOUNDARY) + 2
    if (whole < 2) {
      this.#pending = input
      return EMPTY
    }

    if (whole < input.length) this.#pending = Buffer.from(input.subarray(whole))
    // [DONE] ends a stream: only the last event of a read can be it; a finish_reason is looked for until one is seen
    if (!this.sawDone) this.sawDone = endsWithDone(input, whole)
    if (!this.sawDone && !this.sawFinish) {
      const at = findKey(input, FINISH_NAME, 0)
      this.sawFinish = at !== -1 && at < whole
    }

    this.#keep(input, whole)
    // the pieces that go on: whole runs of events as they came, cut only around what changes
    let out: Buffer[] | undefined
    let kept = 0
    for (let at = findKey(input, USAGE_NAME, 0); at !== -1 && at < whole;) {
      // the next search starts past this key, or past its event when that was cut
      let next = at + USAGE_KEY.length
      if (input[next] === 0x7b) {
        const start = eventStart(input, at)
        const end = (next = input.indexOf(BOUNDARY, at) + 2)
        const event = input.subarray(start, end)
        const changed = this.#usage(event)
        if (changed !== event) {
          out ??= []
          out.push(input.subarray(kept, start))
          if (changed) out.push(changed)
          kept = end
        }
      } else if (!this.wantUsage) {
        const cut = nullUsage(input, at)
        if (cut) {
          out ??= []
          out.push(input.subarray(kept, cut[0]))
          kept = cut[1]
        }
      }

      at = findKey(input, USAGE_NAME, next)
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
  #usage(event: Buffer): Buffer | undefined {
    const text = event.toString('utf8')
    const data = text.slice(text.indexOf('data:') + 5).trim()
    const taken = takeUsage(data, this.wantUsage)
    if (taken.usage) {
      this.usage = taken.usage
      this.#kept = undefined
    }

    if (taken.data === data) return event
    return taken.data === undefined ? undefined : Buffer.from(`data: ${taken.data}\n\n`)
  }
}

/**
 * Where the JSON key `"<name>` begins in `bytes` at `from` or after, or -1. The search is for
 * the name, and the quote before it is checked then: a quote is the commonest byte in JSON,
 * and a search for a pattern that starts with one stops at every string (5× slower).
 */
function findKey(bytes: Buffer, name: Buffer, from: number): number {
  for (let at = bytes.indexOf(name, from + 1); at !== -1; at = bytes.indexOf(name, at + 1))
    if (bytes[at - 1] === 0x22) return at - 1
  return -1
}

/** Whether bytes[0, end) ends with a blank line (`\n\n`). */
function endsEvent(bytes: Buffer, end: number): boolean {
  return end >= 2 && bytes[end - 1] === 0x0a && bytes[end - 2] === 0x0a
}

/** Whether the last of the complete events in bytes[0, whole) is `data: [DONE]`. */
function endsWithDone(bytes: Buffer, whole: number): boolean {
  let end = whole - 2
  if (bytes[end - 1] !== 0x0a) {
    // the common case, without a search: [DONE] right after the event before it, or not the last event
    const start = end - DONE.length
    return start >= 0 && (start === 0 || endsEvent(bytes, start)) && bytesAt(bytes, DONE, start)
  }

  // blank lines before the end
  while (end > 0 && bytes[end - 1] === 0x0a) end--
  return bytesAt(bytes, DONE, eventStart(bytes, end - 2))
}

/** Where the event holding position `at` begins. */
function eventStart(bytes: Buffer, at: number): number {
  const before = at < 0 ? -1 : bytes.lastIndexOf(BOUNDARY, at)
  return before === -1 ? 0 : before + 2
}

/** Whether `bytes` holds `marker` at `at`. */
function bytesAt(bytes: Buffer, marker: Buffer, at: number): boolean {
  if (at < 0 || at + marker.length > bytes.length) return false
  for (let i = 0; i < marker.length; i++) if (bytes[at + i] !== marker[i]) return false
  return true
}

/**
 * The span to cut for a `"usage":null` field at `at` (what OpenAI sends in every chunk once
 * usage is asked for), with its comma; undefined when the usage there is something else.
 */
function nullUsage(bytes: Buffer, at: number): [number, number] | undefined {
  if (!bytesAt(bytes, NULL_USAGE, at)) return undefined
  const end = at + NULL_USAGE.length
  if (bytes[at - 1] === 0x2c) return [at - 1, end] // ,"usage":null
  if (bytes[end] === 0x2c) return [at, end + 1] // "usage":null,
  return undefined
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
