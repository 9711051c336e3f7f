import {randomBytes} from 'node:crypto'
import type {IncomingMessage, ServerResponse} from 'node:http'

import type {CodexAuthServer} from './fake-codex-auth.js'
import {
  type CodexOutput,
  failedFrames,
  frameText,
  splitWords,
  type SseFrame,
  type StreamPlan,
  streamFrames,
  type TurnUsage,
} from './fake-codex-events.js'
import {
  bearer,
  type Ctx,
  cut,
  detail,
  type Headers,
  type Json,
  jsonObject,
  nowS,
  pause,
  Queue,
  Reply,
  send,
  serve,
} from './fake-codex-http.js'
import {
  type CodexRateLimits,
  defaultRateLimits,
  rateLimitHeaders,
  rateLimitsEvent,
  usageDocument,
  usageLimitBody,
} from './fake-codex-limits.js'
import {CODEX_MODELS, type CodexModel} from './fake-codex-models.js'
import {ruleViolation} from './fake-codex-rules.js'
import type {CodexAccount, PlanType} from './fake-codex-tokens.js'
import {type Answer, defaultCodexAnswer, defaultTurn, estimateUsage} from './fake-codex-turns.js'
import {LoopbackServer} from './loopback-server.js'

/**
 * A fake of the Codex backend at https://chatgpt.com/backend-api (here the loopback origin):
 * `POST /backend-api/codex/responses` (SSE only), `GET /backend-api/codex/models` and
 * `GET /backend-api/wham/usage`. Every route wants `Authorization: Bearer <live access token of
 * the fake auth server>` and `ChatGPT-Account-ID: <that token's account>`.
 */

export type CodexBackendOptions = {
  /** The account's catalog; requests for other slugs are refused. Default `CODEX_MODELS`. */
  models?: readonly CodexModel[]
  /** `response.completed` carries the output items (the public API's shape) instead of the backend's `[]`. Default false. */
  fullOutput?: boolean
  /** Delay between SSE events. Default 0. */
  chunkDelayMs?: number
  /** Text of the default answer. Default `Codex answer to: <last user text>`. */
  answer?: Answer
  /** `input_tokens_details.cached_tokens` of default answers (capped at the input). Default 0. */
  cachedTokens?: number
}

export type BackendRoute = 'responses' | 'models' | 'usage'

export type BackendFault =
  /** This status; default body `{"detail": "…"}`. */
  | {type: 'status'; status: number; body?: unknown; headers?: Record<string, string>}
  /** 429 `{"error":{"type":"usage_limit_reached",…}}` with the account's plan and the rate-limit state's reset. */
  | {type: 'usage-limit'}
  /** 200 stream cut (connection closed) after this many SSE events, codex.* ones included. */
  | {type: 'cut'; afterEvents: number}
  /** 200 stream whose answer ends in `response.failed` with `error: {code, message}`. */
  | {type: 'failed'; code: string; message?: string}
  /** Never answer (until the client gives up or the fake closes). */
  | {type: 'hang'}

/** A scripted answer: output items (and usage) streamed the usual way, or raw SSE events sent verbatim with nothing added. */
export type CodexScript =
  {output: CodexOutput[]; usage?: Partial<TurnUsage>} | {raw: Array<{event?: string; data: unknown}>}

export type BackendRequest = {
  route: BackendRoute
  headers: Headers
  query: Record<string, string>
  body: unknown
  account: CodexAccount | undefined
  status: number
  at: number
}

const ROUTES: Record<string, {method: string; route: BackendRoute}> = {
  '/backend-api/codex/responses': {method: 'POST', route: 'responses'},
  '/backend-api/codex/models': {method: 'GET', route: 'models'},
  '/backend-api/wham/usage': {method: 'GET', route: 'usage'},
}

/** Messages of `response.failed` faults: the codes are the backend's, the texts are made up. */
const FAILED_MESSAGES: Record<string, string> = {
  context_length_exceeded:
    'Your input exceeds the context window of this model. Please adjust your input and try again.',
  usage_not_included: 'Codex is not included in your ChatGPT plan.',
  insufficient_quota: 'You exceeded your current quota.',
  rate_limit_exceeded: 'Rate limit reached. Please try again later.',
}

export class CodexBackendServer {
  readonly origin: string
  /** Every request to the three routes, in arrival order, with the status it got. */
  readonly requests: BackendRequest[] = []
  rateLimits: CodexRateLimits = defaultRateLimits()

  #options: CodexBackendOptions
  readonly #auth: CodexAuthServer
  readonly #http: LoopbackServer
  readonly #faults = new Queue<BackendFault>()
  readonly #scripts = new Queue<CodexScript>()
  readonly #onRequest: (req: IncomingMessage, res: ServerResponse) => void

  private constructor(http: LoopbackServer, auth: CodexAuthServer, options: CodexBackendOptions) {
    this.#http = http
    this.#auth = auth
    this.origin = http.origin
    this.#options = {...options}
    this.#onRequest = serve(http.stopping.signal, (ctx, text) => this.#route(ctx, text))
  }

  static async start(auth: CodexAuthServer, options: CodexBackendOptions = {}): Promise<CodexBackendServer> {
    // requests reach the server only once it exists
    const fake: CodexBackendServer = new CodexBackendServer(
      await LoopbackServer.start((req, res) => fake.#onRequest(req, res)),
      auth,
      options,
    )
    return fake
  }

  set(options: Partial<CodexBackendOptions>): void {
    this.#options = {...this.#options, ...options}
  }

  /** Queue a fault for the next `times` authenticated requests of `route`. */
  fault(fault: BackendFault, times = 1, route: BackendRoute = 'responses'): void {
    this.#faults.push(fault, times, route)
  }

  /** The next `times` valid `/responses` requests answer with this script (after any queued fault). */
  script(script: CodexScript, times = 1): void {
    this.#scripts.push(structuredClone(script), times)
  }

  clearFaults(): void {
    this.#faults.clear()
    this.#scripts.clear()
  }

  close(): Promise<void> {
    return this.#http.close()
  }

  async #route(ctx: Ctx, text: string): Promise<void> {
    const known = ROUTES[ctx.url.pathname]
    if (!known || known.method !== ctx.req.method) throw detail(404, 'Not Found')
    const record: BackendRequest = {
      route: known.route,
      headers: {...ctx.req.headers},
      query: Object.fromEntries(ctx.url.searchParams),
      body: undefined,
      account: undefined,
      status: 0,
      at: ctx.at,
    }
    this.requests.push(record)
    if (known.route === 'responses') {
      try {
        record.body = JSON.parse(text)
      } catch {
        record.body = text
      }
    }
    try {
      record.account = this.#authenticate(ctx.req)
      record.status = await this.#answer(ctx, known.route, record.account, text)
    } catch (error) {
      if (error instanceof Reply) record.status = error.status
      throw error
    }
  }

  /**
   * The real 401 body is not documented: these `{"detail"}` texts follow the ChatGPT backend's
   * style. Neither is the answer to a wrong or missing ChatGPT-Account-ID: 403 here.
   */
  #authenticate(req: IncomingMessage): CodexAccount {
    const token = bearer(req)
    if (token === undefined) throw detail(401, 'Authentication credentials were not provided.')
    const live = this.#auth.tokens.access(token)
    if (!live.ok) {
      const why = {
        unknown: 'Could not parse your authentication token. Please try signing in again.',
        expired: 'Your authentication token has expired. Please try signing in again.',
        revoked: 'Your authentication token has been invalidated. Please try signing in again.',
      }
      throw detail(401, why[live.why])
    }
    const header = req.headers['chatgpt-account-id']
    if (header !== live.account.accountId)
      throw detail(
        403,
        `ChatGPT-Account-ID ${JSON.stringify(header ?? null)} does not match the account of this token.`,
      )
    return live.account
  }

  /** Answer an authenticated request; returns the status sent. */
  async #answer(ctx: Ctx, route: BackendRoute, account: CodexAccount, text: string): Promise<number> {
    const body = route === 'responses' ? jsonObject(text) : {}
    if (route === 'responses') {
      const broken = ruleViolation(
        body,
        this.#models().map((m) => m.slug),
      )
      if (broken) throw detail(broken.status, broken.detail)
    }
    if (route === 'models' && !ctx.url.searchParams.get('client_version'))
      throw detail(400, 'Missing required query parameter: client_version')
    const fault = this.#faults.take(route)
    if (fault?.type === 'hang') return 0
    if (fault?.type === 'status')
      throw new Reply(
        fault.status,
        fault.body ?? {detail: `Upstream error ${fault.status} (fault injected by the fake Codex backend).`},
        fault.headers,
      )
    if (fault?.type === 'usage-limit')
      throw new Reply(429, usageLimitBody(account.planType, this.rateLimits), rateLimitHeaders(this.rateLimits))
    if (route === 'models') {
      send(ctx, 200, {models: this.#models()})
      return 200
    }
    if (route === 'usage') {
      send(ctx, 200, usageDocument(account.planType, this.rateLimits))
      return 200
    }
    await this.#stream(ctx, body, account.planType, fault)
    return 200
  }

  #models(): readonly CodexModel[] {
    return this.#options.models ?? CODEX_MODELS
  }

  async #stream(ctx: Ctx, body: Json, planType: PlanType, fault: BackendFault | undefined): Promise<void> {
    const turnState = `ts_${randomBytes(12).toString('hex')}`
    // A 'failed' fault replaces the answer and leaves any script queued.
    const script = fault?.type === 'failed' ? undefined : this.#scripts.take()
    const plan = this.#plan(body, planType, turnState, script)
    let frames: Array<SseFrame | {event?: string; data: unknown}>
    if (fault?.type === 'failed')
      frames = failedFrames(
        plan,
        fault.code,
        fault.message ?? FAILED_MESSAGES[fault.code] ?? `The response failed (${fault.code}).`,
      )
    else if (script && 'raw' in script) frames = script.raw
    else frames = streamFrames(plan)
    const limit = fault?.type === 'cut' ? Math.max(0, Math.floor(fault.afterEvents)) : undefined
    ctx.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-codex-turn-state': turnState,
      ...rateLimitHeaders(this.rateLimits),
    })
    ctx.res.flushHeaders()
    let sent = 0
    for (const frame of frames) {
      if (limit !== undefined && sent >= limit) break
      if (sent > 0 && !(await pause(ctx, this.#options.chunkDelayMs ?? 0))) return
      ctx.res.write(frameText(frame))
      sent++
    }
    if (limit !== undefined) cut(ctx)
    else ctx.res.end()
  }

  #plan(body: Json, planType: PlanType, turnState: string, script: CodexScript | undefined): StreamPlan {
    const output =
      script && 'output' in script ? script.output : defaultTurn(body, this.#options.answer ?? defaultCodexAnswer)
    const usage = {
      ...estimateUsage(body, output, this.#options.cachedTokens ?? 0),
      ...(script && 'output' in script ? script.usage : {}),
    }
    return {
      responseId: `resp_${randomBytes(24).toString('hex')}`,
      model: String(body.model),
      createdAt: nowS(),
      body,
      output,
      usage,
      fullOutput: this.#options.fullOutput ?? false,
      rateLimits: rateLimitsEvent(planType, this.rateLimits),
      turnState,
      split: splitWords,
    }
  }
}
