import type {Context} from '../core/context.js'
import type {LedgerWriter, UsageRecord} from '../core/ledger.js'
import {writeRuntimeState} from '../core/runtime-state.js'
import type {Logger} from './logger.js'
import type {Metrics} from './metrics.js'
import type {CredentialPool} from './pool.js'
import type {TokenRefresher} from './refresher.js'
import type {Registry} from './registry.js'
import type {SessionStore} from './sessions.js'
import type {Served, UpstreamCaller} from './upstream/call.js'

export type Usage = {prompt_tokens: number; completion_tokens: number; estimated: boolean}

/** Everything a route needs, built once by the server. */
export type DaemonState = {
  readonly ctx: Context
  readonly registry: Registry
  readonly pool: CredentialPool
  readonly refresher: TokenRefresher
  readonly sessions: SessionStore
  readonly caller: UpstreamCaller
  readonly ledger: LedgerWriter
  readonly metrics: Metrics
  readonly log: Logger
  readonly clientKey: string
  readonly startedAt: number
  /** requests being answered, open client connections, upstream connection pools: for /admin/pool */
  connections(): Promise<{requests: number; clients: number; upstream: Record<string, unknown>}>
  readonly version: string
  /** append a finished request to the usage ledger and the token counters */
  recordUsage(served: Served, request: {endpoint: string; model: string; usage: Usage; status: UsageRecord['status']; startedMs: number}): void
}

/** `usage` of an OpenAI response body, when it has a well-formed one. */
export function usageOf(body: unknown): {prompt_tokens: number; completion_tokens: number} | undefined {
  const usage = (body as {usage?: {prompt_tokens?: unknown; completion_tokens?: unknown}} | null)?.usage
  if (typeof usage?.prompt_tokens !== 'number') return undefined
  return {prompt_tokens: usage.prompt_tokens, completion_tokens: typeof usage.completion_tokens === 'number' ? usage.completion_tokens : 0}
}

export function ledgerRecorder(ledger: LedgerWriter, metrics: Metrics): DaemonState['recordUsage'] {
  return (served, {endpoint, model, usage, status, startedMs}) => {
    const record: UsageRecord = {
      ts: new Date().toISOString(),
      token: served.token.label,
      upstream: served.upstream.name,
      // the name the upstream bills under
      model: served.upstream.modelMap?.[model] ?? model,
      endpoint,
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      estimated: usage.estimated,
      status,
      ms: Math.round(performance.now() - startedMs),
    }
    ledger.append(record)
    metrics.countTokens(record.token, record.model, 'prompt', usage.prompt_tokens)
    metrics.countTokens(record.token, record.model, 'completion', usage.completion_tokens)
  }
}

/**
 * Persists what the pool learns (disabled tokens, cooldowns, last use) to state.json,
 * at most every `delayMs`, atomically. Only the daemon writes this file.
 */
export class RuntimeStateWriter {
  #timer: NodeJS.Timeout | undefined
  #writing: Promise<void> = Promise.resolve()

  constructor(
    private readonly path: string,
    private readonly pool: CredentialPool,
    private readonly log: Logger,
    private readonly delayMs = 250,
  ) {}

  schedule(): void {
    if (this.#timer) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.flush()
    }, this.delayMs)
    this.#timer.unref()
  }

  async flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#writing = this.#writing.then(() =>
      writeRuntimeState(this.path, {tokens: this.pool.runtime()}).catch((error: unknown) => {
        this.log.error({err: (error as Error).message}, 'cannot write the runtime state file')
      }),
    )
    await this.#writing
  }
}
