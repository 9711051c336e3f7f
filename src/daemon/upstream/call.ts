import {pipeline} from 'node:stream/promises'
import type {Dispatcher} from 'undici'

import {errorMessage} from '../../core/errors.js'
import {redact} from '../../core/mask.js'
import {describeNetworkError, upstreamMessage} from '../../core/upstream-check.js'
import {ApiError} from '../errors.js'
import type {ResponseTarget} from '../http.js'
import type {Logger} from '../logger.js'
import type {CredentialPool, Lease, Outcome, PoolToken} from '../pool.js'
import type {Endpoint, LiveToken, LiveUpstream, Registry} from '../registry.js'
import {AnswerSink, type TextStage} from '../stream.js'
import type {UpstreamClient} from './client.js'
import {adapterFor} from './adapters.js'

export type CallSpec = {
  endpoint: Endpoint
  /** the model as the client named it, after aliases */
  model: string
  /** the client's request body; each adapter derives the upstream body from it */
  body: Record<string, unknown>
  stream: boolean
  /** aborted when the client goes away */
  signal: AbortSignal
  /** only tokens of this upstream (listing its models) */
  upstream?: string
}

export type Served = {token: LiveToken; upstream: LiveUpstream; attempts: number; /** usage is the tokenizer's estimate */ estimatesUsage: boolean}
export type JsonResult = Served & {status: number; headers: Record<string, string>; text: string; json: unknown}
/** How a streamed answer reaches the client: the target, and per attempt a fresh output stage (chat-format events in, client text out). */
export type StreamRun = {target: ResponseTarget; output: (served: Served) => TextStage}
export type StreamResult = Served & {headers: Record<string, string>}

const FORWARD = /^(x-request-id|openai-[\w-]+|x-ratelimit-[\w-]+|retry-after|retry-after-ms)$/

/** The upstream response headers SDKs read (protocols.md §3), and nothing else. */
export function forwardHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && FORWARD.test(name)) out[name] = Array.isArray(value) ? value.join(', ') : value
  }

  return out
}

/** Retry-After (seconds or HTTP date) or retry-after-ms, in ms. */
export function retryAfterMs(headers: Dispatcher.ResponseData['headers'], now = Date.now()): number | undefined {
  const ms = Number(headers['retry-after-ms'])
  if (Number.isFinite(ms) && ms >= 0) return ms
  const value = headers['retry-after']
  if (typeof value !== 'string') return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** A 4xx from the upstream that is about the request, not the token: passed to the client as it is. */
export class UpstreamHttpError extends ApiError {
  constructor(status: number, text: string, headers: Record<string, string>, secrets: Iterable<string>) {
    let type = status >= 500 ? 'server_error' : 'invalid_request_error'
    let param: string | null = null
    let code = `upstream_${status}`
    try {
      const error = (JSON.parse(text) as {error?: {type?: unknown; param?: unknown; code?: unknown}}).error
      if (typeof error?.type === 'string') type = error.type
      if (typeof error?.param === 'string') param = error.param
      if (typeof error?.code === 'string') code = error.code
    } catch {
      // not an OpenAI error body: keep the defaults
    }

    super(status, code, upstreamMessage(text, [...secrets]) || `The upstream answered HTTP ${status}.`, {type, param, headers})
  }
}

/** Thrown by a body reader when a response failed before anything reached the client: try another token. */
class Retryable extends Error {
  /** the upstream went quiet (idle timeout) rather than broke */
  readonly timeout: boolean

  constructor(message: string, cause?: unknown) {
    super(message)
    this.timeout = (cause as {code?: string} | undefined)?.code === 'UND_ERR_BODY_TIMEOUT'
  }
}

/** The whole body; a connection that breaks while reading it (or a body over the agent's size limit) is a retryable failure. */
async function readBody(body: Dispatcher.ResponseData['body']): Promise<string> {
  try {
    return await body.text()
  } catch (error) {
    throw new Retryable(`the response broke off: ${describeNetworkError(error)}`, error)
  }
}

/**
 * Sends one client request upstream through the pool: picks a token, tries, and on a
 * 429, 401/403, 5xx, connect error, timeout or broken body moves to another token —
 * only while nothing has reached the client, at most `pool.maxAttempts` times.
 */
export class UpstreamCaller {
  constructor(
    private readonly registry: Registry,
    private readonly pool: CredentialPool,
    private readonly client: UpstreamClient,
    private readonly log: Logger,
    /** renew a refresh-token token's access token (after a 401); true when it worked */
    private readonly renew: (label: string) => Promise<boolean> = async () => false,
  ) {}

  /** A complete JSON response (read whole before anything is sent, so a broken body is retried). */
  json(spec: CallSpec): Promise<JsonResult> {
    return this.#attempts(spec, async (res, served) => {
      const adapter = adapterFor(served.upstream.protocol)
      if (adapter.readJson) {
        const {text, json} = await adapter.readJson(res.body, spec, served).catch((error: unknown) => {
          throw new Retryable(`the answer broke off: ${describeNetworkError(error)}`, error)
        })
        return {...served, status: res.statusCode, headers: forwardHeaders(res.headers), text, json}
      }

      const text = await readBody(res.body)
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        throw new Retryable('the upstream answered 200 with a body that is not JSON')
      }

      return {...served, status: res.statusCode, headers: forwardHeaders(res.headers), text, json}
    })
  }

  /**
   * Stream the answer into `run.target`, one pipeline per attempt: upstream body → an
   * AnswerSink that parses, converts (per protocol) and relays (per route) each upstream
   * read with plain calls. An attempt that fails before it wrote anything moves to another
   * token; after that the error is the caller's to send in-band. Resolves once the whole
   * answer was written.
   */
  stream(spec: CallSpec, run: StreamRun): Promise<StreamResult> {
    return this.#attempts(spec, async (res, served) => {
      const headers = forwardHeaders(res.headers)
      const converter = await adapterFor(served.upstream.protocol).streamStage?.(spec, served)
      const sink = new AnswerSink(converter, run.output(served), run.target.writer(headers))
      // a converted answer may end before the upstream does (a stop sequence, max_tokens): cut the upstream off then
      sink.once('answered', () => res.body.destroy())
      try {
        await pipeline(res.body, sink)
      } catch (error) {
        if (sink.answered) return {...served, headers}
        if (!sink.wrote) throw new Retryable(`the stream broke off before any answer: ${describeNetworkError(error)}`, error)
        throw error
      }

      if (!sink.wrote) throw new Retryable('the upstream stream ended without an answer')
      return {...served, headers}
    })
  }

  async #attempts<T>(spec: CallSpec, handle: (res: Dispatcher.ResponseData, served: Served) => Promise<T>): Promise<T> {
    const {pool: settings} = this.registry.settings
    const byModel = this.registry.filterFor(spec.endpoint, spec.model, spec.body)
    const filter = spec.upstream === undefined ? byModel : (t: PoolToken) => t.upstream === spec.upstream
    const tried = new Set<string>()
    let renewed: Set<string> | undefined
    let last: ApiError | undefined
    // a 429 does not use up an attempt (the token cools down and another is tried), but the whole request waits at most pool.queueTimeoutMs for tokens
    const deadline = Date.now() + settings.queueTimeoutMs
    let rateLimited = 0
    for (let attempt = 1; attempt <= settings.maxAttempts; attempt++) {
      const lease = await this.pool.acquire(filter, {signal: spec.signal, exclude: tried, deadline})
      const token = lease.token as LiveToken
      tried.add(token.label)
      const upstream = this.registry.upstream(token.upstream)
      const secret = this.registry.credential(token.label)
      if (!upstream || secret === undefined) {
        lease.release({type: 'aborted'})
        continue
      }

      const served: Served = {token, upstream, attempts: attempt, estimatesUsage: Boolean(adapterFor(upstream.protocol).estimatesUsage)}
      const request = adapterFor(upstream.protocol).request(spec, served, secret)
      let res: Dispatcher.ResponseData
      try {
        res = await this.client.request({...request, signal: spec.signal}, settings)
      } catch (error) {
        if (spec.signal.aborted) {
          lease.release({type: 'aborted'})
          throw spec.signal.reason
        }

        last = networkError(error, upstream)
        this.#failed(lease, {type: 'failure', reason: last.message}, attempt)
        continue
      }

      if (res.statusCode >= 400) {
        const text = await readBody(res.body).catch(() => '')
        if (res.statusCode === 401 && token.kind === 'refresh-token' && !renewed?.has(token.label)) {
          // an expired or revoked access token: renew it and retry once on the same token
          ;(renewed ??= new Set()).add(token.label)
          lease.release({type: 'aborted'})
          this.log.info({token: token.label}, 'upstream answered 401: renewing the access token')
          if (await this.renew(token.label)) {
            tried.delete(token.label)
            attempt--
            continue
          }
        }

        const failure = this.#classify(res, text, upstream)
        if (!failure) {
          lease.release({type: 'ok'})
          throw new UpstreamHttpError(res.statusCode, text, forwardHeaders(res.headers), this.registry.secrets())
        }

        last = failure.error
        this.#failed(lease, failure.outcome, attempt)
        if (failure.outcome.type === 'rate-limited' && ++rateLimited <= 10 * settings.maxAttempts) attempt--
        continue
      }

      try {
        const result = await handle(res, served)
        lease.release({type: 'ok'})
        return result
      } catch (error) {
        res.body.destroy()
        if (spec.signal.aborted) {
          lease.release({type: 'aborted'})
          throw spec.signal.reason
        }

        if (!(error instanceof Retryable)) {
          lease.release({type: 'failure', reason: errorMessage(error)})
          throw error
        }

        last = error.timeout
          ? new ApiError(504, 'upstream_timeout', `Upstream ${upstream.name} did not answer in time (${error.message}).`, {type: 'server_error'})
          : new ApiError(502, 'upstream_error', `Upstream ${upstream.name} failed: ${error.message}.`, {type: 'server_error'})
        this.#failed(lease, {type: 'failure', reason: error.message}, attempt)
      }
    }

    throw last ?? new ApiError(502, 'upstream_error', 'No upstream attempt could be made.', {type: 'server_error'})
  }

  /** A verdict on the token for a 4xx/5xx, or undefined when the error is about the request itself. */
  #classify(res: Dispatcher.ResponseData, text: string, upstream: LiveUpstream): {outcome: Outcome; error: ApiError} | undefined {
    const message = upstreamMessage(text, [...this.registry.secrets()]) || 'no message'
    const status = res.statusCode
    if (status === 429) {
      const wait = retryAfterMs(res.headers)
      const headers: Record<string, string> = wait === undefined ? {} : {'retry-after': String(Math.max(1, Math.ceil(wait / 1000)))}
      return {outcome: {type: 'rate-limited', retryAfterMs: wait}, error: new ApiError(429, 'rate_limit_exceeded', `Upstream ${upstream.name} is rate limiting: ${message}`, {type: 'rate_limit_error', headers})}
    }

    if (status === 401 || status === 403) {
      const reason = `upstream answered ${status}: ${message}`
      return {outcome: {type: 'refused', reason}, error: new ApiError(502, 'upstream_refused_token', `Upstream ${upstream.name} refused the token (${reason}).`, {type: 'server_error'})}
    }

    if (status >= 500 || status === 408) {
      return {outcome: {type: 'failure', reason: `upstream answered ${status}`}, error: new ApiError(502, 'upstream_error', `Upstream ${upstream.name} answered ${status}: ${message}`, {type: 'server_error'})}
    }

    return undefined
  }

  #failed(lease: Lease, outcome: Outcome, attempt: number): void {
    lease.release(outcome)
    const reason = outcome.type === 'failure' || outcome.type === 'refused' ? outcome.reason : outcome.type
    this.log.warn({token: lease.token.label, attempt, outcome: outcome.type}, redact(`attempt ${attempt} on ${lease.token.label} failed: ${reason}`, this.registry.secrets()))
  }
}

function networkError(error: unknown, upstream: LiveUpstream): ApiError {
  const code = (error as {code?: string}).code
  const what = describeNetworkError(error)
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new ApiError(504, 'upstream_timeout', `Upstream ${upstream.name} did not answer in time (${what}).`, {type: 'server_error'})
  }

  return new ApiError(502, 'upstream_unreachable', `Cannot reach upstream ${upstream.name}: ${what}.`, {type: 'server_error'})
}
