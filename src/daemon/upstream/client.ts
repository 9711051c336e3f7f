import type {Writable} from 'node:stream'
import {Agent, type Dispatcher} from 'undici'

export const MAX_RESPONSE_BYTES = 128 * 1024 * 1024

export type Timeouts = {connectTimeoutMs: number; firstByteTimeoutMs: number; idleTimeoutMs: number}

export type UpstreamRequest = {
  url: string
  method: 'GET' | 'POST' | 'DELETE'
  headers: Record<string, string>
  body?: string
  signal: AbortSignal
}

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
   * Send a request; when its headers arrive, `receive` chooses the Writable its body is
   * written into (undici's `stream()`: no intermediate readable stream, no pipeline — half
   * the CPU of request() + pipeline() for a proxy). Resolves when the body was written
   * whole; rejects on a connect or transport error, or when the Writable failed.
   */
  stream(
    req: UpstreamRequest,
    timeouts: Timeouts,
    receive: (status: number, headers: Dispatcher.ResponseData['headers']) => Writable,
  ): Promise<unknown> {
    if (timeouts.connectTimeoutMs !== this.#connectTimeoutMs) {
      void this.#agent.close()
      this.#connectTimeoutMs = timeouts.connectTimeoutMs
      this.#agent = UpstreamClient.#agentFor(timeouts.connectTimeoutMs)
    }

    const {origin, path} = split(req.url)
    return this.#agent.stream(
      {
        origin,
        path,
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        headersTimeout: timeouts.firstByteTimeoutMs,
        bodyTimeout: timeouts.idleTimeoutMs,
      },
      ({statusCode, headers}) => receive(statusCode, headers),
    )
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
