import type {PlanLimits, TokenRuntime} from '../core/runtime-state.js'
import type {Cancellation} from './cancellation.js'
import {ApiError} from './errors.js'
import type {Lease, Outcome, PoolOptions, PoolToken, Stats, TokenSnapshot, Waiter} from './pool-types.js'
import {MINUTE, restoredStats, tokenRuntime, tokenSnapshot, unusableReason} from './pool-views.js'

export type {Lease, Outcome, PoolOptions, PoolToken, TokenSnapshot} from './pool-types.js'

export class PoolExhaustedError extends ApiError {
  constructor(retryAfterS: number, why: string) {
    super(429, 'pool_exhausted', `No token is free for this request (${why}). Retry after ${retryAfterS} s.`, {
      type: 'rate_limit_error',
      headers: {'retry-after': String(retryAfterS)},
    })
  }
}

/**
 * The credential pool (docs/architecture.md §4): per-token concurrency and requests-per-minute caps,
 * choice by fewest in flight then least recently used, a bounded FIFO queue with a
 * timeout, cooldown after a 429, disable after a refusal, and a short circuit-break after
 * repeated failures. It knows tokens by label; it never sees a secret.
 */
export class CredentialPool {
  #tokens: PoolToken[] = []
  readonly #stats = new Map<string, Stats>()
  readonly #groupInFlight = new Map<string, number>()
  readonly #queue: Waiter[] = []
  readonly #options: Required<Omit<PoolOptions, 'onChange' | 'onOutcome'>> & Pick<PoolOptions, 'onChange' | 'onOutcome'>
  #wakeTimer: NodeJS.Timeout | undefined
  #wakeAt = Infinity

  constructor(options: PoolOptions) {
    this.#options = {failureThreshold: 3, now: Date.now, ...options}
  }

  /** New queue and cooldown settings (config reload); waiting requests keep their deadline. */
  configure(options: Partial<Pick<PoolOptions, 'queueTimeoutMs' | 'queueLimit' | 'cooldownMs'>>): void {
    Object.assign(this.#options, options)
  }

  get queueLength(): number {
    return this.#queue.length
  }

  get tokens(): readonly PoolToken[] {
    return this.#tokens
  }

  /** Replace the token set (config reload). Runtime state survives for tokens whose `addedAt` is unchanged. */
  update(tokens: PoolToken[], persisted: Record<string, TokenRuntime> = {}): void {
    this.#tokens = tokens
    const now = this.#options.now()
    for (const token of tokens) {
      const current = this.#stats.get(token.label)
      if (current?.addedAt === token.addedAt) continue
      const saved = persisted[token.label]?.addedAt === token.addedAt ? persisted[token.label] : undefined
      this.#stats.set(token.label, restoredStats(token, saved, now))
    }

    for (const label of this.#stats.keys()) if (!tokens.some((t) => t.label === label)) this.#stats.delete(label)
    this.#drain()
  }

  /**
   * A lease on a free token accepted by `filter`, preferring tokens not in `exclude`
   * (the ones an earlier attempt of this request already tried). Waits in the FIFO queue
   * while all are busy or cooling down.
   */
  acquire(
    filter: (token: PoolToken) => boolean,
    options: {signal?: Cancellation; exclude?: ReadonlySet<string>; deadline?: number; model?: string} = {},
  ): Promise<Lease> {
    const exclude = options.exclude ?? new Set<string>()
    const {model} = options
    const usable = this.#usable(filter)
    if (usable.length === 0) return Promise.reject(this.#unavailable(filter))
    const lease = this.#tryLease(filter, exclude, model)
    if (lease) return Promise.resolve(lease)
    if (this.#queue.length >= this.#options.queueLimit)
      return Promise.reject(
        new PoolExhaustedError(this.#retryAfterS(filter, model), `the queue is full: ${this.#queue.length} waiting`),
      )
    options.signal?.throwIfAborted()
    // a request that already waited (an earlier attempt hit a cooling token) keeps its overall deadline
    const deadline = Math.min(this.#options.now() + this.#options.queueTimeoutMs, options.deadline ?? Infinity)
    // waiting is for capacity; when every token rests until after the deadline, waiting cannot help: say so at once
    const held = this.#heldPast(usable, deadline, model)
    if (held) return Promise.reject(new PoolExhaustedError(this.#retryAfterS(filter, model), held))
    const wait = Math.max(0, deadline - this.#options.now())

    return new Promise<Lease>((resolve, reject) => {
      const onAbort = () => {
        this.#remove(waiter)
        reject(options.signal!.reason as Error)
      }

      const waiter: Waiter = {
        filter,
        model,
        exclude,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#remove(waiter)
          reject(
            new PoolExhaustedError(
              this.#retryAfterS(filter, model),
              `waited ${this.#options.queueTimeoutMs} ms in the queue`,
            ),
          )
        }, wait),
        cleanup: () => options.signal?.removeEventListener('abort', onAbort),
      }
      options.signal?.addEventListener('abort', onAbort, {once: true})
      this.#queue.push(waiter)
      this.#scheduleWake()
    })
  }

  /** Why no token can be free before `deadline` (each rests past it), or undefined when one may be. */
  #heldPast(usable: PoolToken[], deadline: number, model: string | undefined): string | undefined {
    const reasons: string[] = []
    for (const token of usable) {
      const s = this.#stats.get(token.label)!
      const until = this.#restsUntil(token, model)
      if (until <= deadline) return undefined
      reasons.push(
        `${token.label} rests until ${new Date(until).toISOString()}${s.coolingReason ? ` (${s.coolingReason})` : ''}`,
      )
    }

    return `every token that could serve it is rate limited: ${reasons.join('; ')}`
  }

  snapshot(): TokenSnapshot[] {
    const now = this.#options.now()
    return this.#tokens.map((token) =>
      tokenSnapshot(token, this.#stats.get(token.label)!, this.#groupInFlight.get(groupOf(token)) ?? 0, now),
    )
  }

  /** What the daemon persists to state.json. */
  runtime(): Record<string, TokenRuntime> {
    const now = this.#options.now()
    const out: Record<string, TokenRuntime> = {}
    for (const [label, s] of this.#stats) out[label] = tokenRuntime(s, now)
    return out
  }

  /** A ChatGPT plan's usage windows, as its backend just reported them for this token. */
  noteLimits(label: string, limits: PlanLimits): void {
    const s = this.#stats.get(label)
    if (!s) return
    s.limits = {...limits, plan: limits.plan ?? s.limits?.plan}
    this.#options.onChange?.()
  }

  /** Disable a token (its credential is refused for good), with the reason shown by `tokens list`. */
  disable(label: string, reason: string): void {
    const s = this.#stats.get(label)
    if (!s) return
    s.disabled = {reason, at: new Date(this.#options.now()).toISOString()}
    this.#options.onChange?.()
    this.#drain()
  }

  /** Re-enable a disabled token (after its credential was renewed). */
  enable(label: string): void {
    const s = this.#stats.get(label)
    if (!s?.disabled) return
    s.disabled = undefined
    s.consecutiveFailures = 0
    this.#options.onChange?.()
    this.#drain()
  }

  /** Reject every waiter (shutdown). */
  close(error: Error): void {
    for (const waiter of this.#queue.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.cleanup()
      waiter.reject(error)
    }

    clearTimeout(this.#wakeTimer)
  }

  #usable(filter: (token: PoolToken) => boolean): PoolToken[] {
    const now = this.#options.now()
    return this.#tokens.filter(
      (t) =>
        filter(t) &&
        !t.blocked &&
        !this.#stats.get(t.label)!.disabled &&
        (t.expiresAt === undefined || t.expiresAt > now),
    )
  }

  #unavailable(filter: (token: PoolToken) => boolean): ApiError {
    const now = this.#options.now()
    const why = this.#tokens.filter(filter).map((t) => unusableReason(t, this.#stats.get(t.label)!, now))
    return new ApiError(
      503,
      'no_available_tokens',
      `Every token that could serve this request is unusable — ${why.join('; ')}. Add or renew a token with \`gptconv tokens add\`.`,
      {type: 'server_error'},
    )
  }

  #free(token: PoolToken, now: number, model: string | undefined): boolean {
    const s = this.#stats.get(token.label)!
    if (token.blocked || s.disabled || this.#restsUntil(token, model) > now) return false
    if (token.expiresAt !== undefined && token.expiresAt <= now) return false
    if ((this.#groupInFlight.get(groupOf(token)) ?? 0) >= token.concurrency) return false
    if (token.rpm !== undefined) {
      while (s.recent.length > 0 && s.recent[0] <= now - MINUTE) s.recent.shift()
      if (s.recent.length >= token.rpm) return false
    }

    return true
  }

  /** Choose among free tokens: untried first, then not failing lately, then fewest in flight, then least recently used. */
  #tryLease(
    filter: (token: PoolToken) => boolean,
    exclude: ReadonlySet<string>,
    model: string | undefined,
  ): Lease | undefined {
    const now = this.#options.now()
    let best: PoolToken | undefined
    let bestRank: number[] = []
    for (const token of this.#tokens) {
      if (!filter(token) || !this.#free(token, now, model)) continue
      const s = this.#stats.get(token.label)!
      const rank = [
        exclude.has(token.label) ? 1 : 0,
        s.failingUntil > now ? 1 : 0,
        this.#groupInFlight.get(groupOf(token)) ?? 0,
        s.lastUsedAt,
      ]
      if (best && !lexLess(rank, bestRank)) continue
      best = token
      bestRank = rank
    }

    return best && this.#lease(best, now)
  }

  #lease(token: PoolToken, now: number): Lease {
    const s = this.#stats.get(token.label)!
    const group = groupOf(token)
    this.#groupInFlight.set(group, (this.#groupInFlight.get(group) ?? 0) + 1)
    s.lastUsedAt = now
    s.requests++
    if (token.rpm !== undefined) s.recent.push(now)
    let released = false
    return {
      token,
      release: (outcome) => {
        if (released) return
        released = true
        this.#groupInFlight.set(group, (this.#groupInFlight.get(group) ?? 1) - 1)
        this.#options.onOutcome?.(token, outcome)
        this.#judge(token, outcome)
        this.#drain()
      },
    }
  }

  #judge(token: PoolToken, outcome: Outcome): void {
    const s = this.#stats.get(token.label)
    if (!s || s.addedAt !== token.addedAt) return // removed or replaced meanwhile
    const now = this.#options.now()
    switch (outcome.type) {
      case 'ok': {
        s.consecutiveFailures = 0
        s.failingUntil = 0
        break
      }

      case 'failure': {
        s.failures++
        s.consecutiveFailures++
        if (s.consecutiveFailures >= this.#options.failureThreshold) {
          s.failingUntil = now + this.#options.cooldownMs
          s.consecutiveFailures = 0
        }

        break
      }

      case 'rate-limited': {
        // at least a second, so that a `Retry-After: 0` cannot make a request spin on one token
        const until = now + Math.max(1000, outcome.retryAfterMs ?? this.#options.cooldownMs)
        if (outcome.model !== undefined)
          s.modelCooling.set(outcome.model, Math.max(s.modelCooling.get(outcome.model) ?? 0, until))
        else {
          s.coolingUntil = Math.max(s.coolingUntil, until)
          s.coolingReason = outcome.reason
        }

        break
      }

      case 'refused': {
        s.disabled = {reason: outcome.reason, at: new Date(now).toISOString()}
        break
      }

      case 'aborted': {
        break
      }
    }

    this.#options.onChange?.()
  }

  #drain(): void {
    for (const waiter of [...this.#queue]) {
      const lease = this.#tryLease(waiter.filter, waiter.exclude, waiter.model)
      if (!lease) {
        if (this.#usable(waiter.filter).length === 0) {
          this.#remove(waiter)
          waiter.reject(this.#unavailable(waiter.filter))
        }

        continue
      }

      this.#remove(waiter)
      waiter.resolve(lease)
    }

    this.#scheduleWake()
  }

  #remove(waiter: Waiter): void {
    const i = this.#queue.indexOf(waiter)
    if (i !== -1) this.#queue.splice(i, 1)
    clearTimeout(waiter.timer)
    waiter.cleanup()
  }

  /** Wake the queue when the next cooldown ends or an rpm window frees a slot. */
  #scheduleWake(): void {
    if (this.#queue.length === 0) return
    const now = this.#options.now()
    let next = Infinity
    for (const token of this.#tokens) {
      const s = this.#stats.get(token.label)!
      if (s.coolingUntil > now) next = Math.min(next, s.coolingUntil)
      for (const until of s.modelCooling.values()) if (until > now) next = Math.min(next, until)
      if (token.rpm !== undefined && s.recent.length >= token.rpm) next = Math.min(next, s.recent[0] + MINUTE)
    }

    if (next === Infinity || next >= this.#wakeAt) return
    clearTimeout(this.#wakeTimer)
    this.#wakeAt = next
    this.#wakeTimer = setTimeout(
      () => {
        this.#wakeAt = Infinity
        this.#drain()
      },
      Math.max(0, next - now) + 1,
    )
    this.#wakeTimer.unref()
  }

  /** Seconds until a token accepted by `filter` could be free again (at least 1). */
  #retryAfterS(filter: (token: PoolToken) => boolean, model?: string): number {
    const now = this.#options.now()
    const usable = this.#usable(filter)
    const coolings = usable.map((t) => this.#restsUntil(t, model)).filter((u) => u > now)
    const earliest = coolings.length === usable.length && coolings.length > 0 ? Math.min(...coolings) : now + 1000
    return Math.max(1, Math.ceil((earliest - now) / 1000))
  }

  /** Until when a token is on hold for a model (its own cooldown, or the model's). */
  #restsUntil(token: PoolToken, model: string | undefined): number {
    const s = this.#stats.get(token.label)!
    return Math.max(s.coolingUntil, model === undefined ? 0 : (s.modelCooling.get(model) ?? 0))
  }
}

function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i]
  return false
}

function groupOf(token: PoolToken): string {
  return token.group ?? `token:${token.label}`
}
