import type {Dispatcher} from 'undici'

import {redact} from '../../core/mask.js'
import {describeNetworkError, upstreamMessage} from '../../core/upstream-check.js'
import {ApiError} from '../errors.js'
import {retryAfterValueMs} from '../protocols/retry-after.js'
import type {Outcome} from '../pool.js'
import type {LiveUpstream} from '../registry.js'
import type {ErrorVerdict} from './adapter.js'

// What an upstream's answer means beyond its body: the headers that go on to the client,
// and what an error answer or a network failure means for the token and for the client.

const FORWARD = /^(x-request-id|openai-[\w-]+|x-ratelimit-[\w-]+|retry-after|retry-after-ms)$/

/** The upstream response headers SDKs read (docs/protocols.md §3.2), and nothing else. */
export function forwardHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name in headers) {
    const value = headers[name]
    if (value !== undefined && FORWARD.test(name)) out[name] = Array.isArray(value) ? value.join(', ') : value
  }

  return out
}

/** Retry-After (seconds or HTTP date) or retry-after-ms, in ms. */
export function retryAfterMs(headers: Dispatcher.ResponseData['headers'], now = Date.now()): number | undefined {
  const ms = Number(headers['retry-after-ms'])
  if (Number.isFinite(ms) && ms >= 0) return ms
  const value = headers['retry-after']
  return retryAfterValueMs(typeof value === 'string' ? value : undefined, now)
}

/** A 4xx from the upstream that is about the request, not the token: passed to the client as it is. */
export class UpstreamHttpError extends ApiError {
  constructor(status: number, text: string, headers: Record<string, string>, secrets: Iterable<string>) {
    let type = status >= 500 ? 'server_error' : 'invalid_request_error'
    let param: string | null = null
    let code = `upstream_${status}`
    const known = [...secrets]
    try {
      const error = (JSON.parse(text) as {error?: {type?: unknown; param?: unknown; code?: unknown}}).error
      // every field the client sees is scrubbed, not only the message: an upstream may echo a key anywhere
      if (typeof error?.type === 'string') type = redact(error.type, known)
      if (typeof error?.param === 'string') param = redact(error.param, known)
      if (typeof error?.code === 'string') code = redact(error.code, known)
    } catch {
      // not an OpenAI error body: keep the defaults
    }

    super(status, code, upstreamMessage(text, known) || `The upstream answered HTTP ${status}.`, {type, param, headers})
  }
}

export function networkError(error: unknown, upstream: LiveUpstream): ApiError {
  const code = (error as {code?: string}).code
  const what = describeNetworkError(error)
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new ApiError(504, 'upstream_timeout', `Upstream ${upstream.name} did not answer in time (${what}).`, {
      type: 'server_error',
    })
  }

  return new ApiError(502, 'upstream_unreachable', `Cannot reach upstream ${upstream.name}: ${what}.`, {
    type: 'server_error',
  })
}

/** What an error answer means: for the token (an outcome for the pool) and for the client; no outcome: it is about the request. */
export type Verdict = {outcome?: Outcome; error: ApiError}

/** An adapter's verdict as the pool's outcome and the client's error. */
export function fromVerdict(verdict: ErrorVerdict, upstream: LiveUpstream, secrets: Iterable<string>): Verdict {
  switch (verdict.kind) {
    case 'cooldown': {
      const message = redact(verdict.message ?? verdict.reason, secrets)
      const headers = {'retry-after': String(Math.max(1, Math.ceil(verdict.ms / 1000)))}
      return {
        outcome: {
          type: 'rate-limited',
          retryAfterMs: verdict.ms,
          reason: redact(verdict.reason, secrets),
          model: verdict.model,
        },
        error: new ApiError(429, 'rate_limit_exceeded', `Upstream ${upstream.name}: ${message}`, {
          type: 'rate_limit_error',
          headers,
        }),
      }
    }

    case 'disable': {
      const reason = redact(verdict.reason, secrets)
      return {
        outcome: {type: 'refused', reason},
        error: new ApiError(502, 'upstream_refused_token', `Upstream ${upstream.name} refused the token (${reason}).`, {
          type: 'server_error',
        }),
      }
    }

    case 'client': {
      return {
        error: new ApiError(verdict.status, verdict.code, redact(verdict.message, secrets), {
          type: verdict.status === 429 ? 'rate_limit_error' : 'invalid_request_error',
        }),
      }
    }
  }
}
