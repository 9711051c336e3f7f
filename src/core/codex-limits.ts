import {GptconvError} from './errors.js'
import {redact} from './mask.js'
import type {PlanLimits} from './runtime-state.js'
import {describeNetworkError, httpGet, upstreamMessage} from './upstream-check.js'

/**
 * A ChatGPT plan's usage windows (a 5-hour one and a weekly one, in percent used), as the
 * daemon records them from the backend's answers, or read from the usage endpoint Codex CLI's
 * /status uses: `GET https://chatgpt.com/backend-api/wham/usage` with the access token and
 * `ChatGPT-Account-ID` (openai/codex codex-rs/backend-client/src/client.rs), which answers
 * `{plan_type, rate_limit: {primary_window, secondary_window}}`, each window
 * `{used_percent, limit_window_seconds, reset_after_seconds, reset_at}`.
 */

export type LimitWindow = PlanLimits['windows'][number]

/** `5h`, `7d`, `90m`: a window's length in the largest whole unit. */
export function limitWindowName(seconds: number): string {
  if (seconds > 0 && seconds % 86_400 === 0) return `${seconds / 86_400}d`
  if (seconds > 0 && seconds % 3600 === 0) return `${seconds / 3600}h`
  return `${Math.round(seconds / 60)}m`
}

/** The usage endpoint beside a Codex base URL: `…/backend-api/codex` → `…/backend-api/wham/usage`. */
export function usageUrl(baseUrl: string): string {
  return new URL('../wham/usage', `${baseUrl.replace(/\/+$/, '')}/`).href
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

function windowOf(raw: unknown, now: number): LimitWindow | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined
  const w = raw as Record<string, unknown>
  const used = num(w.used_percent)
  const length = num(w.limit_window_seconds)
  if (used === undefined || length === undefined) return undefined
  const resetAt = num(w.reset_at)
  const after = num(w.reset_after_seconds)
  const resetsAt =
    resetAt === undefined
      ? after === undefined
        ? null
        : new Date(now + after * 1000).toISOString()
      : new Date(resetAt * 1000).toISOString()
  return {window: limitWindowName(length), usedPercent: used, resetsAt}
}

/** The plan limits in a usage document; windows the document lacks are left out. */
export function planLimitsFromUsage(doc: unknown, now = Date.now()): PlanLimits {
  const data = (typeof doc === 'object' && doc !== null ? doc : {}) as {
    plan_type?: unknown
    rate_limit?: {primary_window?: unknown; secondary_window?: unknown} | null
  }
  const windows = [data.rate_limit?.primary_window, data.rate_limit?.secondary_window]
    .map((w) => windowOf(w, now))
    .filter((w): w is LimitWindow => w !== undefined)
  return {
    ...(typeof data.plan_type === 'string' && data.plan_type && {plan: data.plan_type}),
    windows,
    seenAt: new Date(now).toISOString(),
  }
}

/** Ask the usage endpoint now. Throws a GptconvError (GPTCONV_USAGE_UNAVAILABLE) saying why not. */
export async function fetchPlanLimits(
  baseUrl: string,
  accessToken: string,
  chatgptAccountId: string | undefined,
  timeoutMs = 15_000,
): Promise<PlanLimits> {
  const url = usageUrl(baseUrl)
  const fail = (why: string) =>
    new GptconvError('GPTCONV_USAGE_UNAVAILABLE', `The plan's usage could not be read from ${url}: ${why}.`, {
      status: 502,
    })
  const headers: Record<string, string> = {
    authorization: `Bearer ${accessToken}`,
    accept: 'application/json',
    'user-agent': 'gptconv/0.1',
  }
  if (chatgptAccountId) headers['chatgpt-account-id'] = chatgptAccountId
  let answer: {status: number; text: string}
  try {
    answer = await httpGet(url, headers, timeoutMs)
  } catch (error) {
    throw fail(redact(describeNetworkError(error), [accessToken]))
  }

  const {status, text} = answer
  if (status !== 200) throw fail(`HTTP ${status}: ${upstreamMessage(text, [accessToken]) || 'no message'}`)
  try {
    return planLimitsFromUsage(JSON.parse(text))
  } catch {
    throw fail('the answer is not JSON')
  }
}

const pad = (n: number) => String(n).padStart(2, '0')

/** When a window resets, in local time: `15:28` within a day, `Oct 3 15:28` later. */
export function resetText(iso: string | null, now = Date.now()): string {
  if (!iso) return 'reset unknown'
  const at = new Date(iso)
  const clock = `${pad(at.getHours())}:${pad(at.getMinutes())}`
  if (at.getTime() - now < 86_400_000) return `resets ${clock}`
  return `resets ${at.toLocaleString('en-US', {month: 'short'})} ${at.getDate()} ${clock}`
}

/** `5h: 42% used, resets 15:28; 7d: 84% used, resets Oct 3 09:00` */
export function describeLimits(windows: readonly LimitWindow[], now = Date.now()): string {
  if (windows.length === 0) return 'no usage windows reported'
  return windows.map((w) => `${w.window}: ${Math.round(w.usedPercent)}% used, ${resetText(w.resetsAt, now)}`).join('; ')
}
