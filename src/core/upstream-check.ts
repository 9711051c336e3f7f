import {Agent, request} from 'undici'

import {errorMessage} from './errors.js'
import {redact} from './mask.js'

export type CheckStatus = 'valid' | 'invalid' | 'expired' | 'renewed' | 'error' | 'unreachable' | 'blocked'
export type CheckOutcome = {ok: boolean; status: CheckStatus; detail: string; models?: number}

let agent: Agent | undefined

/**
 * One GET of the CLI's checks and lookups (key checks, billing, plan usage), through one
 * shared agent: the status and the body's text. A network failure or timeout throws undici's
 * error (describeNetworkError says it in words).
 */
export async function httpGet(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<{status: number; text: string}> {
  agent ??= new Agent({connectTimeout: Math.min(timeoutMs, 10_000)})
  const res = await request(url, {
    dispatcher: agent,
    headers,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  })
  return {status: res.statusCode, text: await res.body.text()}
}

/** The `error.message` of an OpenAI-style error body, or a short excerpt of any other body. */
export function upstreamMessage(body: string, secrets: string[]): string {
  // scrubbed before it is cut short: a cut through a secret would leave its first part unrecognised
  let message = redact(body.trim(), secrets).slice(0, 300)
  try {
    // OpenAI {error: {message}}, OAuth {error, error_description}, the web backend {detail}, others {message}
    const parsed = JSON.parse(body) as {
      error?: {message?: unknown} | string
      error_description?: unknown
      detail?: unknown
      message?: unknown
    }
    const oauth =
      typeof parsed.error === 'string'
        ? parsed.error + (typeof parsed.error_description === 'string' ? `: ${parsed.error_description}` : '')
        : undefined
    const candidate =
      oauth ?? (typeof parsed.error === 'object' ? parsed.error?.message : undefined) ?? parsed.detail ?? parsed.message
    if (typeof candidate === 'string' && candidate) message = candidate
  } catch {
    // not JSON: keep the excerpt
  }

  return redact(message, secrets).replaceAll(/\s+/g, ' ')
}

/**
 * Validate an API key the cheapest way every OpenAI-compatible server allows:
 * `GET {baseUrl}/models`. 401/403 mean the key is refused; anything else is trouble
 * with the upstream, not a verdict on the key.
 */
export async function checkApiKey(baseUrl: string, secret: string, timeoutMs = 15_000): Promise<CheckOutcome> {
  try {
    const res = await httpGet(
      `${baseUrl.replace(/\/+$/, '')}/models`,
      {authorization: `Bearer ${secret}`, accept: 'application/json'},
      timeoutMs,
    )
    const body = res.text
    if (res.status === 200) {
      let count: number | undefined
      try {
        const data = (JSON.parse(body) as {data?: unknown}).data
        if (Array.isArray(data)) count = data.length
      } catch {
        // fall through: a 200 that is not a model list
      }

      if (count === undefined)
        return {
          ok: false,
          status: 'error',
          detail: 'the upstream answered 200 but not with a model list; is the base URL right?',
        }
      return {ok: true, status: 'valid', detail: `${count} model${count === 1 ? '' : 's'} available`, models: count}
    }

    const detail = `HTTP ${res.status}: ${upstreamMessage(body, [secret]) || 'no message'}`
    if (res.status === 401 || res.status === 403) return {ok: false, status: 'invalid', detail}
    return {ok: false, status: 'error', detail}
  } catch (error) {
    return {ok: false, status: 'unreachable', detail: redact(describeNetworkError(error), [secret])}
  }
}

export function describeNetworkError(error: unknown): string {
  const err = error as {code?: string; name?: string; cause?: {code?: string}}
  const code = err.code ?? err.cause?.code
  if (err.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return 'no answer in time'
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect timeout'
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found'
  return errorMessage(error)
}

/** A ChatGPT access token is valid when the web backend lists its models for it. */
export async function checkWebAccessToken(baseUrl: string, token: string, timeoutMs = 15_000): Promise<CheckOutcome> {
  try {
    const res = await httpGet(
      `${baseUrl.replace(/\/+$/, '')}/backend-api/models`,
      {authorization: `Bearer ${token}`, accept: 'application/json'},
      timeoutMs,
    )
    if (res.status === 200) return {ok: true, status: 'valid', detail: 'the ChatGPT backend accepts it'}
    const detail = `HTTP ${res.status}: ${upstreamMessage(res.text, [token]) || 'no message'}`
    return {ok: false, status: res.status === 401 || res.status === 403 ? 'invalid' : 'error', detail}
  } catch (error) {
    return {ok: false, status: 'unreachable', detail: redact(describeNetworkError(error), [token])}
  }
}
