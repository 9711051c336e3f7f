import {errorMessage} from '../../core/errors.js'
import {redact} from '../../core/mask.js'
import {describeNetworkError, upstreamMessage} from '../../core/upstream-check.js'
import type {Cancellation} from '../cancellation.js'
import {ApiError} from '../errors.js'
import type {ResponseTarget} from '../http.js'
import type {Logger} from '../logger.js'
import {type CredentialPool, type Lease, type Outcome, PoolExhaustedError, type PoolToken} from '../pool.js'
import type {Relay, StreamDecoder} from '../protocols/codec.js'
import type {ChatCompletion, ChatRequest} from '../protocols/chat/types.js'
import type {LiveToken, LiveUpstream, Registry} from '../registry.js'
import {AnswerSink, type AnswerStage} from '../stream.js'
import type {Endpoint, ErrorVerdict, Served, UpstreamAdapter, UpstreamCall} from './adapter.js'
import {MAX_RESPONSE_BYTES, type UpstreamClient, type UpstreamHeaders} from './client.js'
import {adapterOf} from './index.js'
import {type Receive, type Receiver, Collector, ERROR_BODY_LIMIT, Retryable, final, readBy} from './answers.js'
import {UpstreamHttpError, type Verdict, forwardHeaders, fromVerdict, networkError, retryAfterMs} from './verdicts.js'

export type CallSpec = {
  endpoint: Endpoint
  /** the model as the client named it, after aliases */
  model: string
  /** the client's body, for upstreams that take this endpoint as it is; absent: none may */
  native?: Record<string, unknown>
  /** the pivot (chat) request, for upstreams that need a conversion; absent: only native upstreams serve it */
  pivot?: ChatRequest
  stream: boolean
  /** aborted when the client goes away */
  signal: Cancellation
  /** only this upstream's tokens (listing its models) */
  upstream?: string
  /** only this token (ids an upstream issued belong to the token that made them) */
  token?: string
  /** a read or a deletion of something the upstream keeps, and the path under the endpoint */
  method?: 'GET' | 'DELETE'
  path?: string
}

export type {Served} from './adapter.js'
export type JsonResult = Served & {
  status: number
  headers: Record<string, string>
  mode: 'native'
  text: string
  json: unknown
}
export type PivotResult = Served & {
  status: number
  headers: Record<string, string>
  mode: 'pivot'
  chat: ChatCompletion
}
export type AnswerResult = JsonResult | PivotResult
/** How a streamed answer reaches the client: the target, and per attempt the stage for the path it took. */
export type StreamRun = {
  target: ResponseTarget
  output: (
    served: Served,
    mode: 'native' | 'pivot',
    decoder: StreamDecoder | undefined,
    wrap: (relay: Relay) => Relay,
  ) => AnswerStage
}
export type StreamResult = Served & {headers: Record<string, string>}

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

  /** A complete answer (read whole before anything is sent, so a broken body is retried). */
  answer(spec: CallSpec): Promise<AnswerResult> {
    return this.#attempts<AnswerResult>(spec, (status, upstreamHeaders, served, call, adapter) => {
      const headers = forwardHeaders(upstreamHeaders)
      const {token, upstream, attempts, estimatesUsage} = served
      if (call.mode === 'pivot' && adapter.readAnswer)
        return readBy(async (body) => {
          const chat = await adapter.readAnswer!(body, call, served)
          return {token, upstream, attempts, estimatesUsage, status, headers, mode: 'pivot', chat}
        })
      if (call.mode === 'native' && adapter.readNative)
        return readBy(async (body) => {
          const {text, json} = await adapter.readNative!(body, call, served)
          return {token, upstream, attempts, estimatesUsage, status, headers, mode: 'native', text, json}
        })
      // one JSON body: collected whole, parsed once
      const collector = new Collector(MAX_RESPONSE_BYTES)
      return {
        sink: collector,
        async settle(error) {
          if (error) throw new Retryable(`the response broke off: ${describeNetworkError(error)}`, error)
          const text = collector.bytes.toString('utf8')
          if (call.mode === 'pivot') {
            try {
              const chat = adapter.parseAnswer!(text, call, served)
              return {token, upstream, attempts, estimatesUsage, status, headers, mode: 'pivot', chat}
            } catch (error) {
              throw final(error) ? error : new Retryable(`the answer is not understood: ${errorMessage(error)}`, error)
            }
          }

          let json: unknown
          try {
            json = JSON.parse(text)
          } catch {
            throw new Retryable('the upstream answered 200 with a body that is not JSON')
          }

          return {token, upstream, attempts, estimatesUsage, status, headers, mode: 'native', text, json}
        },
      }
    })
  }

  /**
   * Stream the answer into `run.target`: undici hands each upstream read to an AnswerSink
   * that parses it and passes it through the attempt's stage
   * (a native relay, or the adapter's decoder and the client's encoder), with backpressure.
   * An attempt that fails before it wrote anything moves to another token; after that the
   * error is the caller's to send in-band. Resolves once the whole answer was written.
   */
  stream(spec: CallSpec, run: StreamRun): Promise<StreamResult> {
    return this.#attempts<StreamResult>(spec, (_status, upstreamHeaders, served, call, adapter, decoder) => {
      const headers = forwardHeaders(upstreamHeaders)
      const wrap = (relay: Relay) => adapter.wrapRelay?.(relay, call, served) ?? relay
      // a converted answer may end before the upstream does (a stop sequence, max_tokens): the sink is done then, and the upstream cut off
      const sink = new AnswerSink(run.output(served, call.mode, decoder, wrap), run.target.writer(headers))
      return {
        sink,
        async settle(error) {
          if (sink.done) return {...served, headers}
          if (error) {
            if (!sink.wrote && !final(error))
              throw new Retryable(`the stream broke off before any answer: ${describeNetworkError(error)}`, error)
            throw error
          }

          if (!sink.wrote) throw new Retryable('the upstream stream ended without an answer')
          return {...served, headers}
        },
      }
    })
  }

  /** Tokens that can take this call: natively, or through the pivot when there is one. */
  filter(spec: CallSpec): (token: PoolToken) => boolean {
    if (spec.token !== undefined) return (t) => t.label === spec.token
    if (spec.upstream !== undefined) return (t) => t.upstream === spec.upstream
    return this.registry.filterFor(spec.endpoint, spec.model, {pivot: spec.pivot, native: spec.native !== undefined})
  }

  async #attempts<T>(spec: CallSpec, receive: Receive<T>): Promise<T> {
    const {pool: settings} = this.registry.settings
    const filter = this.filter(spec)
    const tried = new Set<string>()
    let renewed: Set<string> | undefined
    let last: ApiError | undefined
    // a 429 does not use up an attempt (the token cools down and another is tried), but the whole request waits at most pool.queueTimeoutMs for tokens
    const deadline = Date.now() + settings.queueTimeoutMs
    let rateLimited = 0
    for (let attempt = 1; attempt <= settings.maxAttempts; attempt++) {
      let lease: Lease
      try {
        lease = await this.pool.acquire(filter, {signal: spec.signal, exclude: tried, deadline, model: spec.model})
      } catch (error) {
        // every token rests: the client hears the upstream's own words on it, with when to retry
        if (error instanceof PoolExhaustedError && last?.status === 429)
          throw new ApiError(429, last.code, last.message, {
            type: 'rate_limit_error',
            headers: {...last.headers, ...error.headers},
          })
        throw error
      }

      const token = lease.token as LiveToken
      tried.add(token.label)
      const upstream = this.registry.upstream(token.upstream)
      const secret = this.registry.credential(token.label)
      if (!upstream || secret === undefined) {
        lease.release({type: 'aborted'})
        continue
      }

      const adapter = adapterOf(upstream)
      const call = callFor(spec, adapter, upstream)
      if (!call) {
        lease.release({type: 'aborted'})
        continue
      }

      call.onLimits = (limits) => this.pool.noteLimits(token.label, limits)

      const served: Served = {token, upstream, attempts: attempt, estimatesUsage: Boolean(adapter.estimatesUsage)}
      const request = adapter.request(call, served, secret)
      if (request.notes)
        this.log.debug({token: token.label, model: spec.model, notes: request.notes}, 'request fitted to the upstream')
      // ready before the request: undici asks for the body's Writable synchronously when the headers arrive
      const decoder = spec.stream && call.mode === 'pivot' ? await adapter.decoder(call, served) : undefined
      let status = 0
      let upstreamHeaders: UpstreamHeaders = {}
      let failed: Collector | undefined
      let receiver: Receiver<T> | undefined
      let broken: unknown
      try {
        await this.client.send(request, spec.signal, settings, (code, headers) => {
          status = code
          upstreamHeaders = headers
          const limits = adapter.limits?.(headers)
          if (limits) this.pool.noteLimits(token.label, limits)
          if (code >= 400) return (failed = new Collector(ERROR_BODY_LIMIT, true))
          receiver = receive(code, headers, served, call, adapter, decoder)
          return receiver.sink
        })
      } catch (error) {
        broken = error
      }

      if (!failed && !receiver) {
        // no answer at all: the connection, the headers, or the client went away
        if (spec.signal.aborted) {
          lease.release({type: 'aborted'})
          throw spec.signal.reason
        }

        last = networkError(broken, upstream)
        this.#failed(lease, {type: 'failure', reason: last.message}, attempt)
        continue
      }

      if (failed) {
        const text = failed.bytes.toString('utf8')
        if (status === 401 && token.kind === 'refresh-token' && !renewed?.has(token.label)) {
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

        const failure = this.#classify(
          status,
          upstreamHeaders,
          text,
          upstream,
          adapter.classify?.(status, upstreamHeaders, text, call),
        )
        if (!failure?.outcome) {
          lease.release({type: 'ok'})
          throw (
            failure?.error ??
            new UpstreamHttpError(status, text, forwardHeaders(upstreamHeaders), this.registry.secrets())
          )
        }

        last = failure.error
        this.#failed(lease, failure.outcome, attempt)
        if (failure.outcome.type === 'rate-limited' && ++rateLimited <= 10 * settings.maxAttempts) attempt--
        continue
      }

      try {
        const result = await receiver!.settle(broken)
        lease.release({type: 'ok'})
        return result
      } catch (error) {
        receiver!.sink.fail?.(error)
        if (spec.signal.aborted) {
          lease.release({type: 'aborted'})
          throw spec.signal.reason
        }

        if (!(error instanceof Retryable)) {
          lease.release({type: 'failure', reason: errorMessage(error)})
          throw error
        }

        last = error.timeout
          ? new ApiError(
              504,
              'upstream_timeout',
              `Upstream ${upstream.name} did not answer in time (${error.message}).`,
              {type: 'server_error'},
            )
          : new ApiError(502, 'upstream_error', `Upstream ${upstream.name} failed: ${error.message}.`, {
              type: 'server_error',
            })
        this.#failed(lease, {type: 'failure', reason: error.message}, attempt)
      }
    }

    throw last ?? new ApiError(502, 'upstream_error', 'No upstream attempt could be made.', {type: 'server_error'})
  }

  /** A verdict on the token for a 4xx/5xx, or undefined when the error is about the request itself. */
  #classify(
    status: number,
    upstreamHeaders: UpstreamHeaders,
    text: string,
    upstream: LiveUpstream,
    verdict: ErrorVerdict | undefined,
  ): Verdict | undefined {
    if (verdict) return fromVerdict(verdict, upstream, this.registry.secrets())
    const message = upstreamMessage(text, [...this.registry.secrets()]) || 'no message'
    if (status === 429) {
      const wait = retryAfterMs(upstreamHeaders)
      const headers: Record<string, string> =
        wait === undefined ? {} : {'retry-after': String(Math.max(1, Math.ceil(wait / 1000)))}
      return {
        outcome: {type: 'rate-limited', retryAfterMs: wait},
        error: new ApiError(429, 'rate_limit_exceeded', `Upstream ${upstream.name} is rate limiting: ${message}`, {
          type: 'rate_limit_error',
          headers,
        }),
      }
    }

    if (status === 401 || status === 403) {
      const reason = `upstream answered ${status}: ${message}`
      return {
        outcome: {type: 'refused', reason},
        error: new ApiError(502, 'upstream_refused_token', `Upstream ${upstream.name} refused the token (${reason}).`, {
          type: 'server_error',
        }),
      }
    }

    if (status >= 500 || status === 408) {
      return {
        outcome: {type: 'failure', reason: `upstream answered ${status}`},
        error: new ApiError(502, 'upstream_error', `Upstream ${upstream.name} answered ${status}: ${message}`, {
          type: 'server_error',
        }),
      }
    }

    return undefined
  }

  #failed(lease: Lease, outcome: Outcome, attempt: number): void {
    lease.release(outcome)
    const reason = outcome.type === 'failure' || outcome.type === 'refused' ? outcome.reason : outcome.type
    this.log.warn(
      {token: lease.token.label, attempt, outcome: outcome.type},
      redact(`attempt ${attempt} on ${lease.token.label} failed: ${reason}`, this.registry.secrets()),
    )
  }
}

/** This attempt's call: native when the upstream takes the client's body as it is, else the pivot; undefined when it can take neither. */
function callFor(spec: CallSpec, adapter: UpstreamAdapter, upstream: LiveUpstream): UpstreamCall | undefined {
  const {endpoint, model, stream, method, path} = spec
  if (spec.native !== undefined && adapter.native(endpoint, upstream))
    return {endpoint, model, stream, mode: 'native', body: spec.native, method, path}
  if (spec.pivot !== undefined) return {endpoint, model, stream, mode: 'pivot', body: spec.pivot}
  return undefined
}
