import type {PlanLimits} from './runtime-state.js'

/**
 * A ChatGPT plan's usage windows, as its Codex backend reports them in three places: the
 * `x-codex-primary-*` / `x-codex-secondary-*` response headers (used percent, window length
 * in minutes, reset time in unix seconds — older backends send seconds until the reset
 * instead), the `codex.rate_limits` stream frame (`rate_limits.primary.used_percent`,
 * `window_minutes`, `reset_at`), and the `wham/usage` document (read by codex-limits.ts).
 * Each becomes the same PlanLimits.
 */

type Window = PlanLimits['windows'][number]
type HeaderBag = Record<string, string | string[] | undefined>

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined
}

/** `300` minutes → `5h`, `10080` → `7d`, anything else in the largest whole unit. */
export function windowName(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440}d`
  if (minutes % 60 === 0) return `${minutes / 60}h`
  return `${minutes}m`
}

function window(
  usedPercent: number | undefined,
  minutes: number | undefined,
  resetAt: number | undefined,
  resetAfterS: number | undefined,
  now: number,
): Window | undefined {
  if (usedPercent === undefined) return undefined
  const reset =
    resetAt !== undefined ? resetAt * 1000 : resetAfterS !== undefined ? now + resetAfterS * 1000 : undefined
  return {
    window: minutes === undefined ? 'window' : windowName(minutes),
    usedPercent,
    resetsAt: reset === undefined ? null : new Date(reset).toISOString(),
  }
}

function header(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

export function limitsFromHeaders(headers: HeaderBag, now = Date.now()): PlanLimits | undefined {
  const windows: Window[] = []
  for (const which of ['primary', 'secondary']) {
    const h = (field: string) => num(header(headers, `x-codex-${which}-${field}`))
    const w = window(h('used-percent'), h('window-minutes'), h('reset-at'), h('reset-after-seconds'), now)
    if (w) windows.push(w)
  }

  return windows.length === 0 ? undefined : {windows, seenAt: new Date(now).toISOString()}
}

type FrameWindow = {
  used_percent?: unknown
  window_minutes?: unknown
  reset_at?: unknown
  reset_after_seconds?: unknown
  limit_window_seconds?: unknown
}

function fromWindows(
  primary: FrameWindow | undefined,
  secondary: FrameWindow | undefined,
  plan: unknown,
  now: number,
): PlanLimits | undefined {
  const windows: Window[] = []
  for (const w of [primary, secondary]) {
    if (!w || typeof w !== 'object') continue
    const seconds = num(w.limit_window_seconds)
    const minutes = num(w.window_minutes) ?? (seconds === undefined ? undefined : seconds / 60)
    const made = window(num(w.used_percent), minutes, num(w.reset_at), num(w.reset_after_seconds), now)
    if (made) windows.push(made)
  }

  if (windows.length === 0) return undefined
  return {...(typeof plan === 'string' && {plan}), windows, seenAt: new Date(now).toISOString()}
}

/** A `codex.rate_limits` frame of the answer stream. */
export function limitsFromFrame(frame: unknown, now = Date.now()): PlanLimits | undefined {
  const f = frame as {plan_type?: unknown; rate_limits?: {primary?: FrameWindow; secondary?: FrameWindow}} | null
  return fromWindows(f?.rate_limits?.primary, f?.rate_limits?.secondary, f?.plan_type, now)
}
