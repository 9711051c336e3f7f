import {Transform, type TransformCallback} from 'node:stream'

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

export class SseParseError extends Error {
  readonly code = 'SSE_EVENT_TOO_LARGE'
}

/** Bytes in, SseEvent objects out. An event larger than `maxEventBytes` is an error (a garbage upstream must not eat memory). */
export class SseParser extends Transform {
  #buffer = ''
  #data: string[] = []
  #size = 0
  #event: string | undefined
  #pendingCR = false
  readonly #max: number
  readonly #decoder = new TextDecoder('utf-8')

  constructor(maxEventBytes = 8 * 1024 * 1024) {
    super({readableObjectMode: true})
    this.#max = maxEventBytes
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
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
    if (this.#buffer.length + this.#size > this.#max) {
      callback(new SseParseError(`an upstream event exceeded ${this.#max} bytes`))
      return
    }

    callback()
  }

  override _flush(callback: TransformCallback): void {
    if (this.#buffer) this.#line(this.#buffer)
    this.#dispatch()
    callback()
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
    }
    else if (field === 'event') this.#event = value
  }

  #dispatch(): void {
    if (this.#data.length > 0) {
      const event: SseEvent = {data: this.#data.join('\n')}
      if (this.#event) event.event = this.#event
      this.push(event)
    }

    this.#data = []
    this.#size = 0
    this.#event = undefined
  }
}
