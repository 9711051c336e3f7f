import type {TokenRuntime} from '../core/runtime-state.js'
import type {PoolToken, Stats, TokenSnapshot} from './pool-types.js'

// Read-only views of the pool's state: what `tokens list`, `/admin/pool` and the metrics
// show, what state.json keeps (and the state restored from it), and why a token cannot
// serve. The pool decides; these describe.

export const MINUTE = 60_000

/** One token as `tokens list`, `/admin/pool` and the metrics show it; `inFlight` counts its group (one ChatGPT account). */
export function tokenSnapshot(token: PoolToken, s: Stats, inFlight: number, now: number): TokenSnapshot {
  const cooling = s.coolingUntil > now
  const expired = token.expiresAt !== undefined && token.expiresAt <= now
  return {
    label: token.label,
    kind: token.kind,
    upstream: token.upstream,
    state: token.blocked ? 'blocked' : s.disabled ? 'disabled' : expired ? 'expired' : cooling ? 'cooling-down' : 'ok',
    inFlight,
    concurrency: Number.isFinite(token.concurrency) ? token.concurrency : null,
    rpm: token.rpm ?? null,
    requestsLastMinute: s.recent.filter((t) => t > now - MINUTE).length,
    coolingUntil: cooling ? new Date(s.coolingUntil).toISOString() : null,
    coolingReason: cooling ? (s.coolingReason ?? null) : null,
    modelsCooling: Object.fromEntries(
      [...s.modelCooling]
        .filter(([, until]) => until > now)
        .map(([model, until]) => [model, new Date(until).toISOString()]),
    ),
    failingUntil: s.failingUntil > now ? new Date(s.failingUntil).toISOString() : null,
    limits: s.limits ?? null,
    disabled: s.disabled ?? null,
    blocked: token.blocked ?? null,
    failures: s.failures,
    consecutiveFailures: s.consecutiveFailures,
    requests: s.requests,
    lastUsedAt: s.lastUsedAt ? new Date(s.lastUsedAt).toISOString() : null,
  }
}

/** One token's state as state.json keeps it: what must outlive a restart (holds, last use, plan limits). */
export function tokenRuntime(s: Stats, now: number): TokenRuntime {
  return {
    addedAt: s.addedAt,
    ...(s.disabled && {disabled: s.disabled}),
    ...(s.coolingUntil > now && {coolingUntil: new Date(s.coolingUntil).toISOString()}),
    ...(s.coolingUntil > now && s.coolingReason && {coolingReason: s.coolingReason}),
    ...(s.lastUsedAt && {lastUsedAt: new Date(s.lastUsedAt).toISOString()}),
    ...(s.limits && {limits: s.limits}),
  }
}

/** A token's state as the pool starts it: fresh, but for what state.json kept of it (`saved`: its record, when the token is the same one). */
export function restoredStats(token: PoolToken, saved: TokenRuntime | undefined, now: number): Stats {
  return {
    addedAt: token.addedAt,
    lastUsedAt: saved?.lastUsedAt ? Date.parse(saved.lastUsedAt) : 0,
    coolingUntil: saved?.coolingUntil && Date.parse(saved.coolingUntil) > now ? Date.parse(saved.coolingUntil) : 0,
    ...(saved?.coolingReason && {coolingReason: saved.coolingReason}),
    ...(saved?.limits && {limits: saved.limits}),
    modelCooling: new Map(),
    failingUntil: 0,
    disabled: saved?.disabled,
    consecutiveFailures: 0,
    failures: 0,
    requests: 0,
    recent: [],
  }
}

/** Why a token cannot serve at all (blocked, disabled, without an access token, expired). */
export function unusableReason(t: PoolToken, s: Stats, now: number): string {
  if (t.blocked) return `${t.label}: ${t.blocked}`
  if (s.disabled) return `${t.label}: disabled (${s.disabled.reason})`
  if (t.kind === 'refresh-token')
    return `${t.label}: no valid access token yet (its renewal is pending or failing; see \`gptconv logs\`)`
  return `${t.label}: expired at ${new Date(t.expiresAt ?? now).toISOString()}`
}
