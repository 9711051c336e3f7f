import type {ServerResponse} from 'node:http'
import {Writable} from 'node:stream'

import {describeNetworkError} from '../core/upstream-check.js'
import {ApiError, toOpenAIError} from './errors.js'
import type {AttemptWriter} from './http.js'
import {DONE, DONE_EVENT, type SseEvent, SseParser, formatSse} from './sse.js'

/**
 * A streamed answer goes through stages that are plain objects, not streams: the
 * protocol's converter (upstream events → chat-format events), then the route's output
 * (events → the text the client gets). Per upstream read they are called once with the
 * batch of events it completed; only the sink at the end is a stream.
 */
export interface EventStage {
  process(events: SseEvent[]): SseEvent[]
  /** the upstream ended: whatever follows (a finish chunk, usage, [DONE]); throws when the answer is incomplete */
  finish(): SseEvent[]
  /** the answer is complete before the upstream's end (stop sequence, max_tokens) */
  readonly done: boolean
}

export interface TextStage {
  process(events: SseEvent[]): string
}

/**
 * The one Writable of a streamed answer: upstream bytes in, parsed, converted and relayed
 * with plain calls, written to the client with backpressure. `answered` turns true when a
 * converter finished the answer early — the caller then cuts the upstream off.
 */
export class AnswerSink extends Writable {
  answered = false
  readonly #parser = new SseParser()

  constructor(
    private readonly converter: EventStage | undefined,
    private readonly output: TextStage,
    private readonly writer: AttemptWriter,
  ) {
    super()
  }

  get wrote(): boolean {
    return this.writer.wrote
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.answered) {
      callback()
      return
    }

    let text: string
    try {
      let events = this.#parser.push(chunk)
      if (this.converter) {
        events = this.converter.process(events)
        if (this.converter.done) this.answered = true
      }

      text = this.output.process(events)
    } catch (error) {
      callback(error as Error)
      return
    }

    this.writer.write(text, callback)
    if (this.answered) this.emit('answered')
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.answered) {
      callback()
      return
    }

    let text: string
    try {
      let events = this.#parser.end()
      if (this.converter) events = [...this.converter.process(events), ...(this.converter.done ? [] : this.converter.finish())]
      text = this.output.process(events)
    } catch (error) {
      callback(error as Error)
      return
    }

    this.writer.write(text, callback)
  }
}

/** Keep at most this much raw stream text for usage estimates when the upstream reports no usage. */
const KEEP_LIMIT = 1024 * 1024

/**
 * Relays OpenAI SSE events (chat or legacy chunks) to the client as they arrive. Captures the usage chunk
 * (gptconv always asks for it) and strips it — and the `"usage":null` fields that come
 * with it — when the client did not ask. Notes whether the stream finished properly.
 */
export class SseRelay implements TextStage {
  usage: {prompt_tokens: number; completion_tokens: number} | undefined
  sawDone = false
  sawFinish = false
  /** raw data of each event, for estimating usage, until a usage chunk makes it pointless */
  kept: string[] | undefined = []
  /** the text of choice 0, when asked to collect it (session memory) */
  text = ''
  #keptSize = 0

  constructor(
    private readonly wantUsage: boolean,
    private readonly collect = false,
  ) {}

  process(events: SseEvent[]): string {
    let out = ''
    for (const event of events) out += this.#relay(event.data)
    return out
  }

  /** One event as it goes to the client ('' to drop it). */
  #relay(input: string): string {
    let data = input
    if (data === DONE) {
      this.sawDone = true
      return DONE_EVENT
    }

    if (data.includes('"usage":{')) {
      const out = this.#takeUsage(data)
      if (out === undefined) return ''
      data = out
    } else if (!this.wantUsage && data.includes('"usage":null')) {
      data = data.replace(/,"usage":null|"usage":null,?/, '')
    }

    if (!this.sawFinish && data.includes('"finish_reason":"')) this.sawFinish = true
    if (this.collect && data.includes('"content"')) this.text += keptText([data], 0)
    if (this.kept) {
      this.#keptSize += data.length
      if (this.#keptSize > KEEP_LIMIT) this.kept = undefined
      else this.kept.push(data)
    }

    return formatSse(data)
  }

  /** The event's data to send on, or undefined to drop it. */
  #takeUsage(data: string): string | undefined {
    let chunk: {usage?: {prompt_tokens?: unknown; completion_tokens?: unknown}; choices?: unknown[]}
    try {
      chunk = JSON.parse(data) as typeof chunk
    } catch {
      return data
    }

    if (typeof chunk.usage?.prompt_tokens === 'number') {
      this.usage = {prompt_tokens: chunk.usage.prompt_tokens, completion_tokens: Number(chunk.usage.completion_tokens) || 0}
      this.kept = undefined
    }

    if (this.wantUsage) return data
    if (!chunk.choices || chunk.choices.length === 0) return undefined
    delete chunk.usage
    return JSON.stringify(chunk)
  }
}

/** Text of all `delta.content` in chat chunks (of one choice index, or all). */
export function keptText(kept: readonly string[], index?: number): string {
  let text = ''
  for (const data of kept) {
    try {
      for (const choice of (JSON.parse(data) as {choices?: Array<{index?: number; delta?: {content?: unknown}}>}).choices ?? []) {
        if (typeof choice.delta?.content === 'string' && (index === undefined || choice.index === index)) text += choice.delta.content
      }
    } catch {
      // not JSON: nothing to count
    }
  }

  return text
}

/** What a broken stream becomes on the wire. */
export function streamFailure(error: unknown, upstream: string): ApiError {
  if (error instanceof ApiError) return error
  const code = (error as {code?: string}).code
  if (code === 'UND_ERR_BODY_TIMEOUT') return new ApiError(504, 'upstream_timeout', `Upstream ${upstream} stopped sending in the middle of the answer (idle timeout).`, {type: 'server_error'})
  return new ApiError(502, 'upstream_stream_error', `Upstream ${upstream} broke off the answer: ${describeNetworkError(error)}.`, {type: 'server_error'})
}

/** The client hung up, so nothing more can be sent. (A shutdown aborts requests too, and its error is still sent.) */
export function clientGone(signal: AbortSignal): boolean {
  return signal.aborted && (signal.reason as {code?: string} | undefined)?.code === 'client_closed'
}

/** After a stream has started, an error can only be sent in-band: one `data: {"error": …}` event, then the end. */
export function endWithError(res: ServerResponse, error: ApiError): void {
  if (!res.destroyed) res.end(formatSse(JSON.stringify(toOpenAIError(error).body)))
}
