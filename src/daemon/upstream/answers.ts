import {PassThrough} from 'node:stream'

import {describeNetworkError} from '../../core/upstream-check.js'
import type {StreamDecoder} from '../protocols/codec.js'
import type {Served, UpstreamAdapter, UpstreamCall} from './adapter.js'
import type {BodySink, UpstreamHeaders} from './client.js'

// How one attempt's answer body is received: into a sink that undici hands it to read by
// read, and what becomes of it once the body ended or broke; what makes an attempt worth retrying.

/** Thrown by a body reader when a response failed before anything reached the client: try another token. */
export class Retryable extends Error {
  /** the upstream went quiet (idle timeout) rather than broke */
  readonly timeout: boolean

  constructor(message: string, cause?: unknown) {
    super(message)
    this.timeout = (cause as {code?: string} | undefined)?.code === 'UND_ERR_BODY_TIMEOUT'
  }
}

/** Collects a body into memory, up to `limit` bytes (beyond it: an error, or with `truncate` the rest is thrown away). */
export class Collector implements BodySink {
  readonly #chunks: Buffer[] = []
  #size = 0

  constructor(
    private readonly limit: number,
    private readonly truncate = false,
  ) {}

  data(chunk: Buffer): boolean {
    this.#size += chunk.length
    if (this.#size <= this.limit) this.#chunks.push(chunk)
    else if (!this.truncate) throw new Error(`the body is larger than ${this.limit} bytes`)
    return true
  }

  end(): void {}

  get bytes(): Buffer {
    return this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks)
  }
}

/** What receives a successful answer's body: the sink undici hands it to, and what it makes of it once the body ended (or broke). */
export type Receiver<T> = {sink: BodySink; settle(error: unknown): Promise<T>}
export type Receive<T> = (
  status: number,
  headers: UpstreamHeaders,
  served: Served,
  call: UpstreamCall,
  adapter: UpstreamAdapter,
  decoder: StreamDecoder | undefined,
) => Receiver<T>

/** Error bodies are read up to this much (the message is what matters). */
export const ERROR_BODY_LIMIT = 64 * 1024

/** An answer read by an adapter from the body as it arrives (it may stop reading early: the upstream is cut off then). */
export function readBy<T>(read: (body: AsyncIterable<Buffer>) => Promise<T>): Receiver<T> {
  const body = new PassThrough()
  const reading = read(body as AsyncIterable<Buffer>).then(
    (value) => ({value}),
    (error: unknown) => ({error}),
  )
  return {
    sink: new Feed(body),
    async settle() {
      const outcome = await reading
      if ('error' in outcome)
        throw final(outcome.error)
          ? outcome.error
          : new Retryable(
              `the answer broke off or is not understood: ${describeNetworkError(outcome.error)}`,
              outcome.error,
            )
      return outcome.value
    },
  }
}

/** A body fed into a readable stream for an adapter to read; once the adapter stops reading (the stream closed), the sink is done. */
class Feed implements BodySink {
  #resume: (() => void) | undefined

  constructor(private readonly body: PassThrough) {
    const wake = () => this.#resume?.()
    body.on('drain', wake)
    body.on('close', wake)
  }

  get done(): boolean {
    return this.body.destroyed
  }

  data(chunk: Buffer, resume: () => void): boolean {
    if (this.body.destroyed) return true
    this.#resume = resume
    return this.body.write(chunk)
  }

  end(): void {
    if (!this.body.destroyed) this.body.end()
  }

  fail(error: unknown): void {
    this.body.destroy(error as Error)
  }
}

/** An error another token would meet as well (the upstream said so): no retry. */
export function final(error: unknown): boolean {
  return (error as {retryable?: unknown} | null)?.retryable === false
}
