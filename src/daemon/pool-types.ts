import type {TokenKind} from '../core/config.js'
import type {PlanLimits} from '../core/runtime-state.js'

/**
 * What the credential pool promises its callers: the tokens it is given, the leases it
 * hands out, the outcomes a lease is released with, and the view `/admin/pool` shows.
 */
export type PoolToken = {
  label: string
  /** identity of this version of the token: replacing it resets its runtime state */
  addedAt: string
  kind: TokenKind
  upstream: string
  /** max requests in flight; Infinity for none */
  concurrency: number
  rpm?: number
  /** tokens in one group share the concurrency cap (one ChatGPT account = one answer at a time) */
  group?: string
  /** ms since epoch; an expired token is never chosen */
  expiresAt?: number
  /** why the token may not be used at all (its upstream points to another origin than it was stored for); never chosen */
  blocked?: string
}

export type Outcome =
  | {type: 'ok'}
  /** 5xx, connect error, timeout, garbage: the token may be fine, the attempt was not */
  | {type: 'failure'; reason: string}
  /** a 429, a cap, a challenge: the token (or, with `model`, only that model on it) rests for a while */
  | {type: 'rate-limited'; retryAfterMs?: number; reason?: string; model?: string}
  /** 401/403: the upstream refuses this credential */
  | {type: 'refused'; reason: string}
  /** the client went away: no verdict on the token */
  | {type: 'aborted'}

export type Lease = {readonly token: PoolToken; release(outcome: Outcome): void}

export type TokenSnapshot = {
  label: string
  kind: TokenKind
  upstream: string
  state: 'ok' | 'cooling-down' | 'disabled' | 'expired' | 'blocked'
  inFlight: number
  concurrency: number | null
  rpm: number | null
  requestsLastMinute: number
  coolingUntil: string | null
  coolingReason: string | null
  /** models capped on this token, and until when */
  modelsCooling: Record<string, string>
  /** a ChatGPT plan's usage windows, as last reported */
  limits: PlanLimits | null
  /** after repeated failures: tried after the other tokens until then */
  failingUntil: string | null
  disabled: {reason: string; at: string} | null
  /** why the token is blocked (see PoolToken.blocked) */
  blocked: string | null
  failures: number
  consecutiveFailures: number
  requests: number
  lastUsedAt: string | null
}

export type PoolOptions = {
  queueTimeoutMs: number
  queueLimit: number
  /** cooldown after a 429 without Retry-After; how long repeated failures put a token behind the others */
  cooldownMs: number
  /** consecutive failures before a token cools down */
  failureThreshold?: number
  now?: () => number
  /** called when runtime state worth persisting changed */
  onChange?: () => void
  /** called with every attempt's outcome (the metrics count them) */
  onOutcome?: (token: PoolToken, outcome: Outcome) => void
}

/** What the pool knows of one token besides its configuration. */
export type Stats = {
  addedAt: string
  lastUsedAt: number
  /** a 429 or a usage limit: the token is not used until then */
  coolingUntil: number
  /** what the upstream said when it put the token on hold */
  coolingReason?: string
  /** caps of single models (a ChatGPT account's message cap is per model): model → until */
  modelCooling: Map<string, number>
  /** a ChatGPT plan's usage windows, as last reported */
  limits?: PlanLimits
  /** repeated failures (5xx, timeouts, broken streams): until then the token is tried after the others, never waited for */
  failingUntil: number
  disabled?: {reason: string; at: string}
  consecutiveFailures: number
  failures: number
  requests: number
  recent: number[]
}

/** A request waiting in the pool's queue for a free token. */
export type Waiter = {
  filter: (token: PoolToken) => boolean
  model: string | undefined
  exclude: ReadonlySet<string>
  resolve: (lease: Lease) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
  cleanup: () => void
}
