import type {Json} from './fake-codex-http.js'
import type {PlanType} from './fake-codex-tokens.js'

/**
 * The subscription's usage windows, shown three ways by the real backend: `x-codex-*` response
 * headers (openai/codex codex-rs/codex-api/src/rate_limits.rs), the `codex.rate_limits` stream
 * event, and `GET /backend-api/wham/usage` (openai/codex codex-rs/codex-backend-openapi-models).
 * One state here feeds all three, and the 429 usage-limit body.
 */

/** One window; `resetAt` in unix seconds. */
export type RateWindow = {usedPercent: number; windowMinutes: number; resetAt: number}

export type Credits = {hasCredits: boolean; unlimited: boolean; balance: string | null}

export type CodexRateLimits = {
  /** The 5-hour window (300 minutes). */
  primary: RateWindow | null
  /** The weekly window (10080 minutes). */
  secondary: RateWindow | null
  credits: Credits | null
}

const nowS = () => Math.floor(Date.now() / 1000)

/** 7 % of the 5-hour window and 21 % of the week used, resets 2 h / 3 days from `now` (seconds). */
export function defaultRateLimits(now = nowS()): CodexRateLimits {
  return {
    primary: {usedPercent: 7, windowMinutes: 300, resetAt: now + 7200},
    secondary: {usedPercent: 21, windowMinutes: 10080, resetAt: now + 259_200},
    credits: {hasCredits: false, unlimited: false, balance: '0'},
  }
}

/**
 * The response headers. Both reset forms are sent: `-reset-at` (unix seconds, read by 2026 Codex)
 * and `-reset-after-seconds` (read by 2025 Codex, openai/codex codex-rs/core/src/client.rs).
 */
export function rateLimitHeaders(limits: CodexRateLimits, now = nowS()): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, w] of [
    ['primary', limits.primary],
    ['secondary', limits.secondary],
  ] as const) {
    if (!w) continue
    out[`x-codex-${name}-used-percent`] = String(w.usedPercent)
    out[`x-codex-${name}-window-minutes`] = String(w.windowMinutes)
    out[`x-codex-${name}-reset-at`] = String(w.resetAt)
    out[`x-codex-${name}-reset-after-seconds`] = String(Math.max(0, w.resetAt - now))
  }
  if (limits.credits) {
    out['x-codex-credits-has-credits'] = String(limits.credits.hasCredits)
    out['x-codex-credits-unlimited'] = String(limits.credits.unlimited)
    if (limits.credits.balance !== null) out['x-codex-credits-balance'] = limits.credits.balance
  }
  return out
}

function reached(limits: CodexRateLimits): boolean {
  return [limits.primary, limits.secondary].some((w) => w !== null && w.usedPercent >= 100)
}

function credits(c: Credits | null): Json | null {
  return c ? {has_credits: c.hasCredits, unlimited: c.unlimited, balance: c.balance} : null
}

/** `{"type":"codex.rate_limits","plan_type":…,"rate_limits":{allowed,limit_reached,primary,secondary},"credits":…}` (shape from Codex logs). */
export function rateLimitsEvent(planType: PlanType, limits: CodexRateLimits, now = nowS()): Json {
  const win = (w: RateWindow | null) =>
    w
      ? {
          used_percent: w.usedPercent,
          window_minutes: w.windowMinutes,
          reset_after_seconds: Math.max(0, w.resetAt - now),
          reset_at: w.resetAt,
        }
      : null
  return {
    type: 'codex.rate_limits',
    plan_type: planType,
    rate_limits: {
      allowed: !reached(limits),
      limit_reached: reached(limits),
      primary: win(limits.primary),
      secondary: win(limits.secondary),
    },
    credits: credits(limits.credits),
  }
}

/** The `GET /backend-api/wham/usage` document. */
export function usageDocument(planType: PlanType, limits: CodexRateLimits, now = nowS()): Json {
  const win = (w: RateWindow | null) =>
    w
      ? {
          used_percent: w.usedPercent,
          limit_window_seconds: w.windowMinutes * 60,
          reset_after_seconds: Math.max(0, w.resetAt - now),
          reset_at: w.resetAt,
        }
      : null
  return {
    plan_type: planType,
    rate_limit: {
      allowed: !reached(limits),
      limit_reached: reached(limits),
      primary_window: win(limits.primary),
      secondary_window: win(limits.secondary),
    },
    credits: credits(limits.credits),
    additional_rate_limits: [],
  }
}

/** The 429 body (verbatim shape from Codex logs): resets at the latest full window's reset. */
export function usageLimitBody(planType: PlanType, limits: CodexRateLimits, now = nowS()): Json {
  const windows = [limits.primary, limits.secondary].filter((w): w is RateWindow => w !== null)
  const full = windows.filter((w) => w.usedPercent >= 100)
  const resetsAt = Math.max(now, ...(full.length > 0 ? full : windows).map((w) => w.resetAt))
  return {
    error: {
      type: 'usage_limit_reached',
      message: 'The usage limit has been reached',
      plan_type: planType,
      resets_at: resetsAt,
      resets_in_seconds: resetsAt - now,
    },
  }
}
