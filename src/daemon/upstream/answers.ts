import {PassThrough, Writable} from 'node:stream'
import type {Dispatcher} from 'undici'

import {describeNetworkError} from '../../core/upstream-check.js'
import type {StreamDecoder} from '../protocols/codec.js'
import type {Served, UpstreamAdapter, UpstreamCall} from './adapter.js'

// How one attempt's answer body is received: into a Writable that undici writes it into,
// and what becomes of it once the body ended or broke; what makes an attempt worth retrying.

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
export class Collector extends Writable {
  readonly #chunks: Buffer[] = []
  #size = 0

  constructor(
    private readonly limit: number,
    private readonly truncate = false,
  ) {
    super()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#size += chunk.length
    if (this.#size <= this.limit) this.#chunks.push(chunk)
    else if (!this.truncate) {
      callback(new Error(`the body is larger than ${this.limit} bytes`))
      return
    }

    callback()
  }

  get bytes(): Buffer {
    return this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks)
  }
}

/** What receives a successful answer's body: the Writable undici writes it into, and what it makes of it once the body ended (or broke). */
export type Receiver<T> = {sink: Writable; settle(error: unknown): Promise<T>}
export type Receive<T> = (
  status: number,
  headers: Dispatcher.ResponseData['headers'],
  served: Served,
  call: UpstreamCall,
  adapter: UpstreamAdapter,
  decoder: StreamDecoder | undefined,
) => Receiver<T>

/** Error bodies are read up to this much (the message is what matters). */
export const ERROR_BODY_LIMIT = 64 * 1024

/** An answer read by an adapter from the body as it arrives (it may stop reading early: the upstream is cut off then). */
export function readBy<T>(read: (body: AsyncIterable<Buffer>) => Promise<T>): Receiver<T> {
  const sink = new PassThrough()
  const reading = read(sink as AsyncIterable<Buffer>).then(
    (value) => ({value}),
    (error: unknown) => ({error}),
  )
  return {
    sink,
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

/** An error another token would meet as well (the upstream said so): no retry. */
export function final(error: unknown): boolean {
  return (error as {retryable?: unknown} | null)?.retryable === false
}
