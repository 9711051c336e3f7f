import {retryAfterValueMs} from '../retry-after.js'

/**
 * What an HTTP error of the ChatGPT web backend (or a proxy in front of it) means for the
 * token that got it and for the client. Pure: status, headers and body in, a verdict out.
 *
 * - 'cooldown': the token is fine but may not be used for `ms` — a Cloudflare challenge
 *   (`cf-mitigated: challenge`, the HTML "Just a moment…" page), "Unusual activity has been
 *   detected from your device" (403), a message cap (429 `detail.clears_in` seconds, per
 *   model when `detail.code` is `model_cap_exceeded`; the backend rarely sends Retry-After).
 *   `message`, when set, is the backend's words for the client.
 * - 'refresh': the access token expired or was not accepted (a plain 401); renewing it may
 *   cure it, otherwise the token cannot be used.
 * - 'disable': the credential is revoked for good (`token_invalidated`, `token_revoked`, a
 *   deactivated or deleted account).
 * - 'client': the request itself cannot be served (413 `message_length_exceeds_limit`, other
 *   400/413/422): the status and the backend's readable message go to the client; another
 *   token would fail the same way.
 * - undefined: nothing web-specific; the caller's default handling applies.
 *
 * Reasons and messages are the backend's words, shortened, with anything shaped like a
 * token removed; they never contain the credential that was sent.
 */
export type WebErrorVerdict =
  | {kind: 'cooldown'; ms: number; reason: string; model?: string; message?: string}
  | {kind: 'refresh'; reason: string}
  | {kind: 'disable'; reason: string}
  | {kind: 'client'; status: number; message: string; code: string}

/** A Cloudflare challenge clears when the proxy's browser session does: give it a while. */
export const CHALLENGE_COOLDOWN_MS = 10 * 60_000
/** "Unusual activity" says "try again later" without a time. */
export const UNUSUAL_ACTIVITY_COOLDOWN_MS = 15 * 60_000
/** A 429 without `clears_in` or Retry-After. */
export const RATE_LIMIT_COOLDOWN_MS = 60_000

type Headers = Record<string, string | string[] | undefined>
type Detail = {message: string; code: string | undefined; clearsIn: number | undefined}

const REVOKED = new Set([
  'token_invalidated',
  'token_revoked',
  'account_deactivated',
  'account_deleted',
  'user_deactivated',
  'invalid_api_key',
])
/** by message only a closed account is final: an "invalidated" token without its code may be a renewable one */
const DEACTIVATED = /deactivated|has been deleted/i
const SECRETS: Array<[RegExp, string]> = [
  [/\bBearer\s+\S+/gi, 'Bearer [redacted]'],
  [/eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g, '[redacted]'],
  [/\b(?:sk|sess|rt)[-_][\w-]{16,}/g, '[redacted]'],
]

function header(headers: Headers, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers))
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(', ') : value
  return undefined
}

/** Shortened, one line, with anything shaped like a token replaced. */
function tidy(text: string): string {
  let out = text.replace(/\s+/g, ' ').trim()
  for (const [pattern, replacement] of SECRETS) out = out.replace(pattern, replacement)
  return out.length > 300 ? `${out.slice(0, 299)}…` : out
}

/** The `{detail: …}` (or `{error: …}`) of a JSON body; the text itself when it is no JSON. */
function detailOf(body: string): Detail {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return {message: tidy(body), code: undefined, clearsIn: undefined}
  }

  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>
  const detail = record.detail ?? record.error ?? record
  if (typeof detail === 'string') return {message: tidy(detail), code: undefined, clearsIn: undefined}
  const d = (typeof detail === 'object' && detail !== null ? detail : {}) as Record<string, unknown>
  const message = typeof d.message === 'string' ? d.message : typeof d.error === 'string' ? d.error : ''
  const code = typeof d.code === 'string' ? d.code : typeof d.error_code === 'string' ? d.error_code : undefined
  const clearsIn = typeof d.clears_in === 'number' && d.clears_in > 0 ? d.clears_in : undefined
  return {message: tidy(message), code, clearsIn}
}

function isChallenge(headers: Headers, body: string): boolean {
  if (/challenge/i.test(header(headers, 'cf-mitigated') ?? '')) return true
  return /^\s*</.test(body) && /Just a moment|challenge-platform|cf-chl|cf-please-wait|Attention Required/i.test(body)
}

function rateLimited(headers: Headers, detail: Detail, model: string | undefined, now: number): WebErrorVerdict {
  const ms =
    detail.clearsIn === undefined
      ? (retryAfterValueMs(header(headers, 'retry-after'), now) ?? RATE_LIMIT_COOLDOWN_MS)
      : Math.round(detail.clearsIn * 1000)
  const message = detail.message || 'The ChatGPT backend is rate limiting this account.'
  const perModel = detail.code === 'model_cap_exceeded' && model !== undefined
  return {
    kind: 'cooldown',
    ms,
    reason: `rate limited (429${detail.code ? ` ${detail.code}` : ''}): ${message}`,
    message,
    ...(perModel && {model}),
  }
}

function refused(status: number, detail: Detail): WebErrorVerdict {
  const what = detail.message || detail.code || 'no message'
  if ((detail.code !== undefined && REVOKED.has(detail.code)) || DEACTIVATED.test(detail.message)) {
    return {
      kind: 'disable',
      reason: `the ChatGPT backend revoked this credential (${status}${detail.code ? ` ${detail.code}` : ''}): ${what}`,
    }
  }

  return {
    kind: 'refresh',
    reason: `the ChatGPT backend did not accept the access token (${status}${detail.code ? ` ${detail.code}` : ''}): ${what}`,
  }
}

/**
 * The verdict on an HTTP error of a conversation (or models) request. `model` is the web
 * slug the request asked for: a per-model message cap names it. `now` is for tests.
 */
export function webErrorVerdict(
  status: number,
  headers: Headers,
  body: string,
  model?: string,
  now = Date.now(),
): WebErrorVerdict | undefined {
  if (status === 403 && isChallenge(headers, body)) {
    return {
      kind: 'cooldown',
      ms: CHALLENGE_COOLDOWN_MS,
      reason:
        'a Cloudflare challenge (403): the proxy in front of the ChatGPT backend must pass the browser check again',
    }
  }

  const detail = detailOf(body)
  if (status === 403 && /unusual activity/i.test(detail.message)) {
    return {
      kind: 'cooldown',
      ms: UNUSUAL_ACTIVITY_COOLDOWN_MS,
      reason: `the ChatGPT backend saw unusual activity (403): ${detail.message}`,
      message: detail.message,
    }
  }

  if (status === 429) return rateLimited(headers, detail, model, now)
  if (status === 401) return refused(status, detail)
  if (status === 403 && ((detail.code !== undefined && REVOKED.has(detail.code)) || DEACTIVATED.test(detail.message)))
    return refused(status, detail)
  if (status === 400 || status === 413 || status === 422) {
    return {
      kind: 'client',
      status,
      message: detail.message || `The ChatGPT backend refused the request (${status}).`,
      code: detail.code ?? (status === 413 ? 'message_length_exceeds_limit' : 'invalid_request'),
    }
  }

  return undefined
}
