import {Counter, Gauge, Histogram, Registry, collectDefaultMetrics} from 'prom-client'

import {knownModel} from '../core/model-facts.js'
import type {CredentialPool} from './pool.js'
import type {Registry as DaemonRegistry} from './registry.js'

/** The most distinct values the `model` label takes; models past it are counted under OTHER. */
export const MAX_MODEL_LABELS = 200
/** Where models outside the known set (and past the cap) are counted. */
export const OTHER = 'other'

/**
 * Prometheus metrics (prom-client), one registry per daemon. `/metrics` needs no key, so
 * it carries nothing a client chose without bound and nothing that names a person: token
 * labels (often e-mail addresses) are not in it — series are per upstream; per-token
 * detail is in `/admin/pool`, behind the client key — and the `model` label takes only
 * models the daemon knows (configured ones, aliases, model maps, the OpenAI model table,
 * models its upstreams list), at most MAX_MODEL_LABELS of them; every other model is `other`.
 */
export class Metrics {
  readonly registry = new Registry()
  readonly requests: Counter<'route' | 'status'>
  readonly duration: Histogram<'route'>
  readonly tokens: Counter<'upstream' | 'model' | 'type'>
  readonly attempts: Counter<'upstream' | 'outcome'>

  /** requests by route and status, and their durations' histogram child per route (this runs on every request) */
  readonly #requestCounts = new Tallies()
  readonly #timers = new Map<string, {observe(v: number): void}>()
  /** tokens by upstream, model label and type */
  readonly #tokenCounts = new Tallies()
  /** attempts by upstream and outcome */
  readonly #attemptCounts = new Tallies()
  /** models named in the config (aliases, model maps, upstreams' and tokens' lists) */
  #configured = new Set<string>()
  /** models upstreams listed (GET /models) */
  readonly #listed = new Set<string>()
  /** the model label each model was given (bounded: at most MAX_MODEL_LABELS names, plus OTHER) */
  readonly #labels = new Map<string, string>()

  /** Count a finished request. */
  request(route: string, status: number, seconds: number): void {
    if (!this.#requestCounts.add(1, route, status))
      this.#requestCounts.set({route, status: String(status)}, 1, route, status)
    let timer = this.#timers.get(route)
    if (!timer) {
      timer = this.duration.labels(route)
      this.#timers.set(route, timer)
    }

    timer.observe(seconds)
  }

  /** Count tokens used. */
  countTokens(upstream: string, model: string, type: 'prompt' | 'completion', value: number): void {
    if (value <= 0) return
    const label = this.modelLabel(model)
    if (!this.#tokenCounts.add(value, upstream, label, type))
      this.#tokenCounts.set({upstream, model: label, type}, value, upstream, label, type)
  }

  /** Count an upstream attempt by its outcome (ok, failure, rate-limited, refused, aborted). */
  countAttempt(upstream: string, outcome: string): void {
    if (!this.#attemptCounts.add(1, upstream, outcome))
      this.#attemptCounts.set({upstream, outcome}, 1, upstream, outcome)
  }

  /** The `model` label for a model: itself when known and under the cap, else OTHER. */
  modelLabel(model: string): string {
    const given = this.#labels.get(model)
    if (given !== undefined) return given
    if (
      this.#labels.size >= MAX_MODEL_LABELS ||
      !(this.#configured.has(model) || this.#listed.has(model) || knownModel(model))
    )
      return OTHER
    this.#labels.set(model, model)
    return model
  }

  /** The models the config names (on start and each reload). */
  configure(models: Iterable<string>): void {
    this.#configured = new Set(models)
  }

  /** Models an upstream listed; bounded like the labels. */
  knowModels(models: Iterable<string>): void {
    for (const model of models) if (this.#listed.size < MAX_MODEL_LABELS * 10) this.#listed.add(model)
  }

  constructor(pool: CredentialPool) {
    const registers = [this.registry]
    collectDefaultMetrics({register: this.registry, prefix: 'gptconv_'})
    // the counters are tallied in plain maps and handed to prom-client when scraped: its inc() hashes
    // and validates the labels and allocates on every call, and these run several times per request
    const requestCounts = this.#requestCounts
    const tokenCounts = this.#tokenCounts
    const attemptCounts = this.#attemptCounts
    this.requests = new Counter({
      name: 'gptconv_requests_total',
      help: 'Requests answered, by route and HTTP status',
      labelNames: ['route', 'status'],
      registers,
      collect() {
        report(this, requestCounts)
      },
    })
    this.duration = new Histogram({
      name: 'gptconv_request_duration_seconds',
      help: 'Time from request to the end of the response',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers,
    })
    this.tokens = new Counter({
      name: 'gptconv_tokens_total',
      help: `Tokens used, by upstream, model (unknown models: "${OTHER}") and type (prompt or completion)`,
      labelNames: ['upstream', 'model', 'type'],
      registers,
      collect() {
        report(this, tokenCounts)
      },
    })
    this.attempts = new Counter({
      name: 'gptconv_upstream_attempts_total',
      help: 'Upstream attempts by upstream and outcome (ok, failure, rate-limited, refused, aborted)',
      labelNames: ['upstream', 'outcome'],
      registers,
      collect() {
        report(this, attemptCounts)
      },
    })
    new Gauge({
      name: 'gptconv_in_flight',
      help: 'Requests in flight per upstream',
      labelNames: ['upstream'],
      registers,
      collect() {
        this.reset()
        for (const [upstream, n] of inFlightByUpstream(pool)) this.set({upstream}, n)
      },
    })
    new Gauge({
      name: 'gptconv_queue_length',
      help: 'Requests waiting for a free token',
      registers,
      collect() {
        this.set(pool.queueLength)
      },
    })
    new Gauge({
      name: 'gptconv_tokens',
      help: 'Tokens per upstream and state (ok, cooling-down, disabled, expired, blocked)',
      labelNames: ['upstream', 'state'],
      registers,
      collect() {
        this.reset()
        const counts = new Map<string, {upstream: string; state: string; n: number}>()
        for (const t of pool.snapshot()) {
          const key = `${t.upstream}\u0000${t.state}`
          const entry = counts.get(key) ?? {upstream: t.upstream, state: t.state, n: 0}
          entry.n++
          counts.set(key, entry)
        }

        for (const {upstream, state, n} of counts.values()) this.set({upstream, state}, n)
      },
    })
  }
}

type Tally = {labels: Record<string, string>; n: number}
type Key = string | number
type Level = Tally | Map<Key, Tally>

/**
 * Counts by two or three label values, in maps nested one level per label: the values are
 * a few strings and numbers that come back on every request, so a count makes no key
 * string (joining them cost a string and its hash per count, three times per request).
 */
class Tallies {
  readonly all: Tally[] = []
  readonly #root = new Map<Key, Map<Key, Level>>()

  /** Add `n` to the tally of these values; false when there is none yet (the caller makes it with `set`: no labels object per count). */
  add(n: number, a: Key, b: Key, c?: Key): boolean {
    const level = this.#root.get(a)?.get(b)
    const tally = c === undefined ? (level as Tally | undefined) : (level as Map<Key, Tally> | undefined)?.get(c)
    if (tally) tally.n += n
    return tally !== undefined
  }

  set(labels: Record<string, string>, n: number, a: Key, b: Key, c?: Key): void {
    const tally = {labels, n}
    let second = this.#root.get(a)
    if (!second) this.#root.set(a, (second = new Map()))
    if (c === undefined) second.set(b, tally)
    else {
      let third = second.get(b) as Map<Key, Tally> | undefined
      if (!third) second.set(b, (third = new Map()))
      third.set(c, tally)
    }

    this.all.push(tally)
  }
}

/** A counter's value set to the tallies (on each scrape). */
function report<T extends string>(counter: Counter<T>, counts: Tallies): void {
  counter.reset()
  for (const {labels, n} of counts.all) counter.inc(labels as Partial<Record<T, string>>, n)
}

/** In-flight requests per upstream; tokens of one group (one ChatGPT account) share a count, counted once. */
function inFlightByUpstream(pool: CredentialPool): Map<string, number> {
  const out = new Map<string, number>()
  const seen = new Set<string>()
  const snapshot = pool.snapshot()
  pool.tokens.forEach((token, i) => {
    const group = token.group ?? `token:${token.label}`
    if (!out.has(token.upstream)) out.set(token.upstream, 0)
    if (seen.has(group)) return
    seen.add(group)
    out.set(token.upstream, out.get(token.upstream)! + snapshot[i].inFlight)
  })
  return out
}

/** Every model name the config mentions: the default, aliases and their targets, upstreams' lists and model maps, tokens' lists. */
export function configuredModels(registry: DaemonRegistry): Set<string> {
  const {settings} = registry
  const models = new Set<string>([
    settings.defaultModel,
    ...Object.keys(settings.aliases),
    ...Object.values(settings.aliases),
  ])
  for (const upstream of registry.upstreams) {
    for (const model of upstream.models ?? []) models.add(model)
    for (const [from, to] of Object.entries(upstream.modelMap ?? {})) models.add(from).add(to)
  }

  for (const token of registry.tokens) for (const model of token.models ?? []) models.add(model)
  return models
}
