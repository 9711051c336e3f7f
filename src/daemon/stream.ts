import {GptconvError} from '../core/errors.js'
import {describeNetworkError} from '../core/upstream-check.js'
import type {Cancellation} from './cancellation.js'
import {ApiError} from './errors.js'
import type {AttemptWriter} from './http.js'
import type {Relay, StreamDecoder, StreamEncoder} from './protocols/codec.js'
import type {ChatChunk, ChatUsage} from './protocols/chat/types.js'
import {type SseEvent, SseParser} from './sse.js'
import type {BodySink} from './upstream/client.js'

/**
 * What one upstream attempt's stream goes through between the SSE parser and the client:
 * plain objects called once per upstream read with the events it completed, not a chain
 * of streams. Two kinds: a native relay (same wire on both sides: the events pass
 * unparsed) and a pivot stage (the upstream's decoder → chat chunks → the client's encoder).
 */
export interface AnswerStage {
  process(events: readonly SseEvent[]): string
  /** the bytes of one upstream read → what goes on, for stages that need no SSE parse */
  bytes?(chunk: Buffer): Buffer | string
  bytesEnd?(): Buffer | string
  /** the upstream ended: what follows; throws when the answer is incomplete */
  finish(): string
  /** the answer is complete before the upstream's end: stop reading */
  readonly done: boolean
  /** usage the upstream reported, once seen */
  readonly usage: ChatUsage | undefined
  /** the answer's text so far, for a session's memory and for usage estimates */
  text(): string
}

export class NativeStage implements AnswerStage {
  readonly done = false
  readonly bytes?: (chunk: Buffer) => Buffer | string
  readonly bytesEnd?: () => Buffer | string

  constructor(readonly relay: Relay) {
    if (relay.bytes && relay.bytesEnd) {
      this.bytes = (chunk) => relay.bytes!(chunk)
      this.bytesEnd = () => relay.bytesEnd!()
    }
  }

  process(events: readonly SseEvent[]): string {
    return this.relay.process(events)
  }

  finish(): string {
    if (!this.relay.finished) throw new Error('the stream ended before the answer finished')
    return ''
  }

  get usage(): ChatUsage | undefined {
    return this.relay.usage
  }

  text(): string {
    return this.relay.text()
  }
}

/** Text of the first choice beyond this many characters is not kept (sessions and estimates need no more). */
const TEXT_LIMIT = 4 * 1024 * 1024

export class PivotStage implements AnswerStage {
  usage: ChatUsage | undefined
  #text = ''

  constructor(
    private readonly decoder: StreamDecoder,
    private readonly encoder: StreamEncoder,
    private readonly part: number,
  ) {}

  get done(): boolean {
    return this.decoder.done
  }

  process(events: readonly SseEvent[]): string {
    const chunks = this.decoder.process(events)
    return chunks.length === 0 ? '' : this.#push(chunks)
  }

  finish(): string {
    const chunks = this.decoder.finish()
    return chunks.length === 0 ? '' : this.#push(chunks)
  }

  text(): string {
    return this.#text
  }

  #push(chunks: ChatChunk[]): string {
    for (const chunk of chunks) {
      if (chunk.usage) this.usage = chunk.usage
      for (const choice of chunk.choices) {
        if (choice.index !== 0 || this.#text.length > TEXT_LIMIT) continue
        if (typeof choice.delta.content === 'string') this.#text += choice.delta.content
        for (const call of choice.delta.tool_calls ?? [])
          if (call.function?.arguments) this.#text += call.function.arguments
      }
    }

    return this.encoder.push(chunks, this.part)
  }
}

/**
 * The sink of a streamed answer: each upstream read parsed, passed through the attempt's
 * stage with plain calls, written to the client with backpressure. `done` turns true when
 * the stage finished the answer early — the upstream is cut off then.
 */
export class AnswerSink implements BodySink {
  done = false
  #parser: SseParser | undefined

  constructor(
    private readonly stage: AnswerStage,
    private readonly writer: AttemptWriter,
  ) {}

  get wrote(): boolean {
    return this.writer.wrote
  }

  data(chunk: Buffer, resume: () => void): boolean {
    if (this.done) return true
    let text: string | Buffer
    if (this.stage.bytes) text = this.stage.bytes(chunk)
    else {
      text = this.stage.process((this.#parser ??= new SseParser()).push(chunk))
      if (this.stage.done) text += this.#end()
    }

    return this.writer.write(text, resume)
  }

  end(): void {
    if (this.done) return
    let text: string | Buffer
    if (this.stage.bytesEnd) {
      const rest = this.stage.bytesEnd()
      const trailer = this.#end()
      text =
        trailer === '' ? rest : typeof rest === 'string' ? rest + trailer : Buffer.concat([rest, Buffer.from(trailer)])
    } else {
      text = this.stage.process((this.#parser ??= new SseParser()).end())
      text += this.#end()
    }

    this.writer.write(text, noop)
  }

  #end(): string {
    this.done = this.stage.done
    return this.stage.finish()
  }
}

function noop(): void {}

/** What a broken stream becomes on the wire. */
export function streamFailure(error: unknown, upstream: string): GptconvError {
  if (error instanceof GptconvError) return error
  const code = (error as {code?: string}).code
  if (code === 'UND_ERR_BODY_TIMEOUT')
    return new ApiError(
      504,
      'upstream_timeout',
      `Upstream ${upstream} stopped sending in the middle of the answer (idle timeout).`,
      {type: 'server_error'},
    )
  return new ApiError(
    502,
    'upstream_stream_error',
    `Upstream ${upstream} broke off the answer: ${describeNetworkError(error)}.`,
    {type: 'server_error'},
  )
}

/** The client hung up, so nothing more can be sent. (A shutdown aborts requests too, and its error is still sent.) */
export function clientGone(signal: Cancellation): boolean {
  return signal.aborted && (signal.reason as {code?: string} | undefined)?.code === 'client_closed'
}
