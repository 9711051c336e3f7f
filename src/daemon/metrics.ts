import {Counter, Gauge, Histogram, Registry, collectDefaultMetrics} from 'prom-client'

import type {CredentialPool} from './pool.js'

/** Prometheus metrics (prom-client), one registry per daemon. */
export class Metrics {
  readonly registry = new Registry()
  readonly requests: Counter<'route' | 'status'>
  readonly duration: Histogram<'route'>
  readonly tokens: Counter<'token' | 'model' | 'type'>
  readonly attempts: Counter<'token' | 'outcome'>

  readonly #children = new Map<string, {count: {inc(): void}; time: {observe(v: number): void}}>()

  /** Count a finished request (label children cached: this runs on every request). */
  request(route: string, status: number, seconds: number): void {
    const key = `${route}\u0000${status}`
    let child = this.#children.get(key)
    if (!child) {
      child = {count: this.requests.labels(route, String(status)), time: this.duration.labels(route)}
      this.#children.set(key, child)
    }

    child.count.inc()
    child.time.observe(seconds)
  }

  readonly #tokenChildren = new Map<string, {inc(value: number): void}>()

  /** Count tokens used (label children cached: this runs on every request). */
  countTokens(token: string, model: string, type: 'prompt' | 'completion', value: number): void {
    const key = `${token}\u0000${model}\u0000${type}`
    let child = this.#tokenChildren.get(key)
    if (!child) {
      child = this.tokens.labels(token, model, type)
      this.#tokenChildren.set(key, child)
    }

    if (value > 0) child.inc(value)
  }

  constructor(pool: CredentialPool) {
    const registers = [this.registry]
    collectDefaultMetrics({register: this.registry, prefix: 'gptconv_'})
    this.requests = new Counter({name: 'gptconv_requests_total', help: 'Requests answered, by route and HTTP status', labelNames: ['route', 'status'], registers})
    this.duration = new Histogram({name: 'gptconv_request_duration_seconds', help: 'Time from request to the end of the response', labelNames: ['route'], buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120], registers})
    this.tokens = new Counter({name: 'gptconv_tokens_total', help: 'Tokens used, by token label, model and type (prompt or completion)', labelNames: ['token', 'model', 'type'], registers})
    this.attempts = new Counter({name: 'gptconv_upstream_attempts_total', help: 'Upstream attempts by token and outcome', labelNames: ['token', 'outcome'], registers})
    new Gauge({
      name: 'gptconv_in_flight',
      help: 'Requests in flight per token',
      labelNames: ['token'],
      registers,
      collect() {
        for (const t of pool.snapshot()) this.set({token: t.label}, t.inFlight)
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
      name: 'gptconv_token_usable',
      help: '1 when a token can be used now, 0 when it is disabled, expired or cooling down',
      labelNames: ['token', 'state'],
      registers,
      collect() {
        this.reset()
        for (const t of pool.snapshot()) this.set({token: t.label, state: t.state}, t.state === 'ok' ? 1 : 0)
      },
    })
  }
}
