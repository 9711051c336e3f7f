import type {Context} from '../core/context.js'
import type {LedgerWriter, UsageRecord} from '../core/ledger.js'
import type {Binding} from '../core/binding.js'
import {type TokenRuntime, writeRuntimeState} from '../core/runtime-state.js'
import type {Logger} from './logger.js'
import type {Metrics} from './metrics.js'
import type {CredentialPool} from './pool.js'
import type {TokenRefresher} from './refresher.js'
import type {Registry} from './registry.js'
import type {ResponseStore} from './responses-store.js'
import type {SessionStore} from './sessions.js'
import type {ChatUsage} from './protocols/chat/types.js'
import type {Served, UpstreamCaller} from './upstream/call.js'
import {own} from '../core/own.js'

/** Tokens of one finished request, as the ledger records them. */
export type Usage = {
  prompt_tokens: number
  completion_tokens: number
  cached_tokens?: number
  reasoning_tokens?: number
  estimated: boolean
}

/** Chat usage (reported, or estimated) as the ledger's usage. */
export function ledgerUsage(usage: ChatUsage, estimated: boolean): Usage {
  const cached = usage.prompt_tokens_details?.cached_tokens
  const reasoning = usage.completion_tokens_details?.reasoning_tokens
  return {
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    ...(cached && {cached_tokens: cached}),
    ...(reasoning && {reasoning_tokens: reasoning}),
    estimated,
  }
}

/** Everything a route needs, built once by the server. */
export type DaemonState = {
  readonly ctx: Context
  readonly registry: Registry
  readonly pool: CredentialPool
  readonly refresher: TokenRefresher
  readonly sessions: SessionStore
  readonly responses: ResponseStore
  readonly caller: UpstreamCaller
  readonly ledger: LedgerWriter
  readonly metrics: Metrics
  readonly log: Logger
  readonly clientKey: string
  readonly startedAt: number
  /** requests being answered, open client connections (their cap, and how many were closed to make room), upstream connection pools: for /admin/pool */
  connections(): Promise<{
    requests: number
    clients: number
    maxClients: number
    closedForRoom: number
    upstream: Record<string, unknown>
  }>
  readonly version: string
  /** append a finished request to the usage ledger and the token counters */
  recordUsage(
    served: Served,
    request: {endpoint: string; model: string; usage: Usage; status: UsageRecord['status']; startedMs: number},
  ): void
}

let isoMs = 0
let iso = ''

/** The time as an ISO string, made once per millisecond (under load several requests end in the same one). */
function isoNow(): string {
  const now = Date.now()
  if (now !== isoMs) {
    isoMs = now
    iso = new Date(now).toISOString()
  }

  return iso
}

export function ledgerRecorder(ledger: LedgerWriter, metrics: Metrics): DaemonState['recordUsage'] {
  return (served, {endpoint, model, usage, status, startedMs}) => {
    const record: UsageRecord = {
      ts: isoNow(),
      token: served.token.label,
      upstream: served.upstream.name,
      // the name the upstream bills under
      model: own(served.upstream.modelMap, model) ?? model,
      endpoint,
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      ...(usage.cached_tokens && {cached_tokens: usage.cached_tokens}),
      ...(usage.reasoning_tokens && {reasoning_tokens: usage.reasoning_tokens}),
      estimated: usage.estimated,
      status,
      ms: Math.round(performance.now() - startedMs),
    }
    ledger.append(record)
    metrics.countTokens(record.upstream, record.model, 'prompt', usage.prompt_tokens)
    metrics.countTokens(record.upstream, record.model, 'completion', usage.completion_tokens)
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
    /** bindings of token entries written before bindings existed (Registry.firstSeen), kept beside the pool's state */
    private readonly firstSeen: () => ReadonlyMap<string, Binding & {addedAt: string}> = () => new Map(),
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
      writeRuntimeState(this.path, {tokens: this.#tokens()}).catch((error: unknown) => {
        this.log.error({err: (error as Error).message}, 'cannot write the runtime state file')
      }),
    )
    await this.#writing
  }

  #tokens(): Record<string, TokenRuntime> {
    const tokens = this.pool.runtime()
    for (const [label, binding] of this.firstSeen()) {
      const token = own(tokens, label)
      if (token?.addedAt === binding.addedAt)
        Object.assign(token, {
          origin: binding.origin,
          ...(binding.authOrigin !== undefined && {authOrigin: binding.authOrigin}),
        })
    }

    return tokens
  }
}
