/**
 * Server-sent events, the only place that knows the framing (WHATWG "event stream"
 * interpretation: lines end in LF, CRLF or CR; `data:` lines of one event are joined
 * with LF; a blank line dispatches; lines starting with ':' are comments).
 */
export type SseEvent = {event?: string; data: string}

export const DONE = '[DONE]'

export function formatSse(data: string): string {
  return `data: ${data}\n\n`
}

export const DONE_EVENT = formatSse(DONE)

/** An event with a name (`event:` line), as the Responses and Anthropic streams send every event. */
export function formatSseEvent(event: string | undefined, data: string): string {
  return event === undefined ? formatSse(data) : `event: ${event}\ndata: ${data}\n\n`
}

export class SseParseError extends Error {
  readonly code = 'SSE_EVENT_TOO_LARGE'
}

/**
 * An incremental parser: bytes in (as they arrive, split anywhere — even inside a UTF-8
 * character), the events they completed out, as one array per input chunk. Plain
 * synchronous code, so the stream that feeds it pays no per-event stream overhead. An
 * event larger than `maxEventBytes` is an error: a garbage upstream must not eat memory.
 */
export class SseParser {
  #buffer = ''
  #data: string[] = []
  #size = 0
  #event: string | undefined
  #pendingCR = false
  #batch: SseEvent[] = []
  readonly #max: number
  readonly #decoder = new TextDecoder('utf-8')

  constructor(maxEventBytes = 8 * 1024 * 1024) {
    this.#max = maxEventBytes
  }

  /** The events completed by this chunk. */
  push(chunk: Uint8Array): SseEvent[] {
    let text = this.#decoder.decode(chunk, {stream: true})
    if (this.#pendingCR && text.startsWith('\n')) text = text.slice(1)
    this.#pendingCR = false
    this.#buffer += text
    let start = 0
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      this.#line(this.#buffer.slice(start, i))
      if (c === 13) {
        if (i + 1 === this.#buffer.length) this.#pendingCR = true
        else if (this.#buffer.charCodeAt(i + 1) === 10) i++
      }

      start = i + 1
    }

    this.#buffer = this.#buffer.slice(start)
    if (this.#buffer.length + this.#size > this.#max)
      throw new SseParseError(`an upstream event exceeded ${this.#max} bytes`)
    return this.#take()
  }

  /** The end of the input: a last event without its blank line still counts. */
  end(): SseEvent[] {
    if (this.#buffer) this.#line(this.#buffer)
    this.#buffer = ''
    this.#dispatch()
    return this.#take()
  }

  #take(): SseEvent[] {
    if (this.#batch.length === 0) return NONE
    const batch = this.#batch
    this.#batch = []
    return batch
  }

  #line(line: string): void {
    if (line === '') {
      this.#dispatch()
      return
    }

    if (line.charCodeAt(0) === 58) return // ':' comment / keep-alive
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    if (field === 'data') {
      this.#data.push(value)
      this.#size += value.length
    } else if (field === 'event') {
      this.#event = value
    }
  }

  #dispatch(): void {
    if (this.#data.length > 0) {
      const event: SseEvent = {data: this.#data.length === 1 ? this.#data[0] : this.#data.join('\n')}
      if (this.#event) event.event = this.#event
      this.#batch.push(event)
    }

    this.#data = []
    this.#size = 0
    this.#event = undefined
  }
}

const NONE = Object.freeze([]) as unknown as SseEvent[]

/** A whole SSE body's events (tests, small bodies). */
export function parseSse(text: string): SseEvent[] {
  const parser = new SseParser()
  return [...parser.push(Buffer.from(text)), ...parser.end()]
}
