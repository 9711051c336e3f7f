import {Agent, type Dispatcher} from 'undici'

import type {Cancellation} from '../cancellation.js'

export const MAX_RESPONSE_BYTES = 128 * 1024 * 1024

export type Timeouts = {connectTimeoutMs: number; firstByteTimeoutMs: number; idleTimeoutMs: number}

export type UpstreamRequest = {
  url: string
  method: 'GET' | 'POST' | 'DELETE'
  headers: Record<string, string>
  body?: string
}

/**
 * What an answer's body goes into, read by read, as undici hands it over: plain calls, no
 * stream objects. `data` returns false when it cannot take more yet, and calls `resume`
 * once it can; `done` turns true when the answer is complete before the body ends (the
 * upstream is cut off then); `end` sees the end of the body; `fail` that it broke off.
 * Whatever `data` or `end` throw fails the call.
 */
export interface BodySink {
  data(chunk: Buffer, resume: () => void): boolean
  readonly done?: boolean
  end(): void
  fail?(error: unknown): void
}

export type UpstreamHeaders = Dispatcher.ResponseData['headers']

/**
 * One undici Agent (keep-alive connection pools per origin) for every upstream request.
 * Connect timeout on the agent; first byte (response headers) and idle body gaps per request.
 */
export class UpstreamClient {
  #agent: Agent
  #connectTimeoutMs: number

  constructor(connectTimeoutMs: number) {
    this.#connectTimeoutMs = connectTimeoutMs
    this.#agent = UpstreamClient.#agentFor(connectTimeoutMs)
  }

  static #agentFor(connectTimeoutMs: number): Agent {
    // maxResponseSize: a garbage upstream must not fill the memory
    return new Agent({
      connect: {timeout: connectTimeoutMs},
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      maxResponseSize: MAX_RESPONSE_BYTES,
    })
  }

  /**
   * Send a request; when its headers arrive, `receive` chooses the sink its body goes into.
   * Resolves when the body ended (or the sink was done early); rejects on a connect or
   * transport error, an abort of `signal`, or what the sink threw. undici's
   * `dispatch()` with a handler of our own: no Writable, no promise or listener but the
   * one signal listener per call.
   */
  send(
    req: UpstreamRequest,
    signal: Cancellation,
    timeouts: Timeouts,
    receive: (status: number, headers: UpstreamHeaders) => BodySink,
  ) {
    if (timeouts.connectTimeoutMs !== this.#connectTimeoutMs) {
      void this.#agent.close()
      this.#connectTimeoutMs = timeouts.connectTimeoutMs
      this.#agent = UpstreamClient.#agentFor(timeouts.connectTimeoutMs)
    }

    const {origin, path} = split(req.url)
    return new Promise<void>((resolve, reject) => {
      this.#agent.dispatch(
        {
          origin,
          path,
          method: req.method,
          headers: req.headers,
          body: req.body,
          headersTimeout: timeouts.firstByteTimeoutMs,
          bodyTimeout: timeouts.idleTimeoutMs,
        },
        new Call(signal, receive, resolve, reject),
      )
    })
  }

  /** Connections to each upstream origin: connected, free, running, pending, queued. */
  stats(): Record<string, unknown> {
    return {...this.#agent.stats}
  }

  async close(): Promise<void> {
    await this.#agent.close()
  }
}

const origins = new Map<string, string>()

/** Origin and path of a URL, without a URL parse per request (there are only a few upstream origins). */
function split(url: string): {origin: string; path: string} {
  const slash = url.indexOf('/', url.indexOf('//') + 2)
  const base = slash === -1 ? url : url.slice(0, slash)
  let origin = origins.get(base)
  if (origin === undefined) {
    origin = new URL(base).origin
    origins.set(base, origin)
  }

  return {origin, path: slash === -1 ? '/' : url.slice(slash)}
}

/** The end of a call whose sink was done before the body ended: not an error. */
const STOPPED = new Error('the answer was complete before the upstream ended')

/** One upstream call's dispatch handler: the body into its sink, with backpressure and the client's abort. */
class Call implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | undefined
  #sink: BodySink | undefined
  #settled = false
  readonly #resume = () => this.#controller?.resume()

  constructor(
    private readonly signal: Cancellation,
    private readonly receive: (status: number, headers: UpstreamHeaders) => BodySink,
    private readonly resolve: () => void,
    private readonly reject: (error: unknown) => void,
  ) {
    if (signal.aborted) this.#fail(signal.reason)
    else signal.addEventListener('abort', this)
  }

  /** the client's signal aborted */
  handleEvent(): void {
    if (this.#controller) this.#controller.abort(this.signal.reason as Error)
    else this.#fail(this.signal.reason)
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.#settled) controller.abort(this.signal.reason as Error)
    else this.#controller = controller
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: UpstreamHeaders): void {
    if (status < 200) return
    try {
      this.#sink = this.receive(status, headers)
    } catch (error) {
      controller.abort(error as Error)
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const sink = this.#sink!
    try {
      if (!sink.data(chunk, this.#resume)) controller.pause()
    } catch (error) {
      controller.abort(error as Error)
      return
    }

    if (sink.done) {
      this.#ok()
      controller.abort(STOPPED)
    }
  }

  onResponseEnd(): void {
    try {
      this.#sink?.end()
    } catch (error) {
      this.#fail(error)
      return
    }

    this.#ok()
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (error !== STOPPED) this.#fail(error)
  }

  #ok(): void {
    if (this.#settled) return
    this.#settled = true
    this.signal.removeEventListener('abort', this)
    this.resolve()
  }

  #fail(error: unknown): void {
    if (this.#settled) return
    this.#settled = true
    this.signal.removeEventListener('abort', this)
    this.#sink?.fail?.(error)
    this.reject(error)
  }
}
