import {createHash} from 'node:crypto'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {setTimeout as sleep} from 'node:timers/promises'

import {FakeResponses, type FakeResponsesOptions, type ResponsesSeen} from './fake-openai-responses.js'
import {
  contentText,
  countWords,
  defaultAnswer,
  type ErrorEnvelope,
  envelope,
  HttpError,
  type Json,
  invalid,
  isRecord,
  notJson,
  optionalBoolean,
  optionalInteger,
  required,
  requiredString,
  tokenize,
  wrongType,
} from './fake-openai-shared.js'
import {type FakeToolCall, argumentPieces, requestedToolCalls} from './fake-openai-tools.js'
import {LoopbackServer} from './loopback-server.js'

export {countWords, defaultAnswer, tokenize} from './fake-openai-shared.js'
export {transcript} from './fake-openai-responses.js'
export type {FakeResponsesOptions, ResponsesSeen} from './fake-openai-responses.js'

/**
 * A fake OpenAI-protocol upstream for tests: `node:http` on 127.0.0.1, port 0, deterministic
 * answers, request recording, in-flight accounting per key and queued fault injection.
 */

export type Fault =
  /** Reply with this status; default body: an OpenAI error envelope for the status (see `errorEnvelope`). */
  | {type: 'status'; status: number; body?: unknown; headers?: Record<string, string>}
  /** Read the request, never answer (until the client gives up or `close()`). */
  | {type: 'hang'}
  /** Send 200 headers (JSON or event-stream as the request asks), then destroy the socket. */
  | {type: 'die-before-body'}
  /**
   * Streams: send the stream up to and including its `afterChunks`-th content chunk (a chunk whose
   * delta content / text is non-empty; role chunks before it go out too; 0 = die before the first
   * content chunk), then destroy the socket; never `[DONE]` (Responses streams: a content chunk is an
   * `output_text` or `function_call_arguments` delta event). Non-stream: send half the JSON body
   * (with the full `content-length`), then destroy the socket.
   */
  | {type: 'die-mid-stream'; afterChunks: number}
  /** 200 with `application/json` (or `text/event-stream` for streams) and a body that is not valid JSON / whose SSE data is not JSON. */
  | {type: 'garbage'}
  /** Streams: wait `chunkDelayMs` before each chunk (the first too). Non-stream: wait that long (instead of `latencyMs`) before answering. */
  | {type: 'slow'; chunkDelayMs: number}

export type RecordedRequest = {
  method: string
  path: string
  key: string
  headers: Record<string, string | string[] | undefined>
  body: unknown
  at: number
}

export type FakeOpenAIOptions = {
  /** Accepted bearer keys; another key → 401 invalid_api_key. Default: any non-empty bearer. */
  keys?: string[]
  /** Every non-stream answer (errors and `status`/`garbage` faults included) waits this long. Default 0. */
  latencyMs?: number
  /** Delay between stream chunks. Default 0. */
  chunkDelayMs?: number
  /** Ids served by GET /v1/models. Default ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small', 'dall-e-3']. */
  models?: string[]
  /**
   * Chat answer text for choice `choiceIndex` (before `stop` / `max_tokens` are applied). Also used by
   * /v1/completions, once per prompt, with `{...body, prompt: p, messages: [{role: 'user', content: p}]}`.
   * Default: `defaultAnswer`. /v1/responses calls it with choice 0 and a chat view of what the model
   * sees (see `FakeResponses`).
   */
  answer?: (body: Record<string, unknown>, choiceIndex: number) => string
  /** Serve the Responses API (`/v1/responses…`) as OpenAI does; `true` = default options. Default off (404 as today). */
  responses?: boolean | FakeResponsesOptions
}

export const DEFAULT_MODELS = ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small', 'dall-e-3']
export const MODEL_CREATED = 1686935002
export const RATE_LIMIT_REQUESTS = 10_000
/** A 1×1 transparent PNG, the `b64_json` of every generated image. */
export const FAKE_PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='

/** One SSE event; `event` adds an `event:` line (Responses streams name every event). */
type StreamEvent = {data: unknown; content: boolean; event?: string}
type Finish = 'stop' | 'length'
type Generated = {text: string; tokens: string[]; finish: Finish}

/** The OpenAI error envelope the fake sends for `status` when a fault gives no body. */
export function errorEnvelope(status: number): ErrorEnvelope {
  switch (status) {
    case 400:
      return envelope('Bad request (fault injected by the fake upstream).', 'invalid_request_error', null, null)
    case 401:
      return envelope(
        'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
        'invalid_request_error',
        null,
        'invalid_api_key',
      )
    case 403:
      return envelope(
        'Country, region, or territory not supported',
        'request_forbidden',
        null,
        'unsupported_country_region_territory',
      )
    case 404:
      return envelope(
        'The model does not exist or you do not have access to it.',
        'invalid_request_error',
        null,
        'model_not_found',
      )
    case 429:
      return envelope(
        'Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.',
        'requests',
        null,
        'rate_limit_exceeded',
      )
    case 500:
      return envelope(
        'The server had an error while processing your request. Sorry about that!',
        'server_error',
        null,
        null,
      )
    case 503:
      return envelope('The engine is currently overloaded, please try again later', 'server_error', null, null)
    default:
      if (status >= 500)
        return envelope(`Upstream error ${status} (fault injected by the fake upstream).`, 'server_error', null, null)
      return envelope(
        `Request failed with status ${status} (fault injected by the fake upstream).`,
        'invalid_request_error',
        null,
        null,
      )
  }
}

function round(n: number): number {
  return Math.round(n * 10_000) / 10_000
}

/** Log probability of the i-th output token: -0.1 * (i + 1). */
export function tokenLogprob(i: number): number {
  return round(-0.1 * (i + 1))
}

function alternative(token: string, j: number): string {
  return `${token}~${j}`
}

function chatLogprob(token: string, i: number, top: number) {
  const logprob = tokenLogprob(i)
  const bytes = (t: string) => [...Buffer.from(t, 'utf8')]
  const entries = Array.from({length: top}, (_, j) => {
    const t = j === 0 ? token : alternative(token, j)
    return {token: t, logprob: round(logprob - j), bytes: bytes(t)}
  })
  return {token, logprob, bytes: bytes(token), top_logprobs: entries}
}

function legacyTop(token: string, i: number, n: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (let j = 0; j < Math.max(1, n); j++) out[j === 0 ? token : alternative(token, j)] = round(tokenLogprob(i) - j)
  return out
}

function legacyLogprobs(tokens: string[], n: number, firstIndex = 0, offset = 0) {
  let at = offset
  const textOffset = tokens.map((t) => {
    const here = at
    at += t.length
    return here
  })
  return {
    tokens,
    token_logprobs: tokens.map((_, i) => tokenLogprob(firstIndex + i)),
    top_logprobs: tokens.map((t, i) => legacyTop(t, firstIndex + i, n)),
    text_offset: textOffset,
  }
}

/** Apply `stop` (cut before the earliest stop sequence) then the word limit. */
function generate(answer: string, stop: string[], maxWords: number | undefined): Generated {
  let text = answer
  let finish: Finish = 'stop'
  let cut = -1
  for (const s of stop) {
    const at = s === '' ? -1 : text.indexOf(s)
    if (at !== -1 && (cut === -1 || at < cut)) cut = at
  }
  if (cut !== -1) text = text.slice(0, cut)
  let tokens = tokenize(text)
  if (maxWords !== undefined && tokens.length > maxWords) {
    tokens = tokens.slice(0, maxWords)
    text = tokens.join('')
    finish = 'length'
  }
  return {text, tokens, finish}
}

/** Deterministic unit vector (float32 values) derived from a hash of one embeddings input. */
export function fakeEmbedding(input: string | number[], dimensions = 8): number[] {
  const seed = createHash('sha256').update(JSON.stringify(input)).digest('hex')
  const raw: number[] = []
  for (let j = 0; j < dimensions; j++) {
    const block = createHash('sha256')
      .update(`${seed}:${Math.floor(j / 8)}`)
      .digest()
    raw.push((block.readUInt32BE((j % 8) * 4) / 2 ** 32) * 2 - 1)
  }
  const norm = Math.sqrt(raw.reduce((sum, v) => sum + v * v, 0)) || 1
  return raw.map((v) => Math.fround(v / norm))
}

/** Little-endian float32 bytes, base64 (the `encoding_format: 'base64'` form). */
export function float32Base64(values: number[]): string {
  const buffer = Buffer.alloc(values.length * 4)
  values.forEach((v, i) => buffer.writeFloatLE(v, i * 4))
  return buffer.toString('base64')
}

function interleave(sequences: StreamEvent[][]): StreamEvent[] {
  const out: StreamEvent[] = []
  const longest = Math.max(0, ...sequences.map((s) => s.length))
  for (let step = 0; step < longest; step++) {
    for (const seq of sequences) {
      const event = seq[step]
      if (event) out.push(event)
    }
  }
  return out
}

function stopSequences(body: Json): string[] {
  const stop = body.stop
  if (stop === undefined || stop === null) return []
  if (typeof stop === 'string') return [stop]
  if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) {
    if (stop.length > 4)
      throw invalid(
        'stop',
        `Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length ${stop.length} instead.`,
        'array_above_max_length',
      )
    return stop
  }
  throw wrongType('stop', 'a string or an array of strings', stop)
}

function streamOptions(body: Json, stream: boolean): boolean {
  const options = body.stream_options
  if (options === undefined || options === null) return false
  if (!stream)
    throw invalid('stream_options', "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
  if (!isRecord(options)) throw wrongType('stream_options', 'an object', options)
  if (options.include_usage !== undefined && typeof options.include_usage !== 'boolean')
    throw wrongType('stream_options.include_usage', 'a boolean', options.include_usage)
  return options.include_usage === true
}

// ---- the server ----

type Context = {
  req: IncomingMessage
  res: ServerResponse
  method: string
  pathname: string
  key: string
  seq: number
  arrival: number
  keyCount: number
  body: unknown
  bodyText: string
  stream: boolean
  delayMs: number
  chunkDelayMs: number
  delayFirstChunk: boolean
  dieAfterChunks?: number
}

type QueuedFault = {key: string; fault: Fault; remaining: number}

export class FakeOpenAI {
  readonly origin: string
  readonly baseUrl: string
  readonly requests: RecordedRequest[] = []
  /** Every response /v1/responses made (when served): which key, and the input the model saw. */
  readonly responsesSeen: ResponsesSeen[]

  private readonly faults: QueuedFault[] = []
  private readonly current = new Map<string, number>()
  private readonly highest = new Map<string, number>()
  private readonly perKey = new Map<string, number>()
  private readonly models: string[]
  private readonly responses: FakeResponses | undefined
  private counter = 0

  private constructor(
    private readonly http: LoopbackServer,
    private readonly options: FakeOpenAIOptions,
  ) {
    this.origin = http.origin
    this.baseUrl = `${this.origin}/v1`
    this.models = options.models ?? DEFAULT_MODELS
    const responses = options.responses
    this.responses = responses
      ? new FakeResponses(responses === true ? {} : responses, (body) => this.answer(body, 0))
      : undefined
    this.responsesSeen = this.responses?.seen ?? []
  }

  static async start(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
    // requests reach the server only once it exists
    const fake: FakeOpenAI = new FakeOpenAI(await LoopbackServer.start((req, res) => fake.onRequest(req, res)), options)
    return fake
  }

  /** Queue a fault for the next `times` requests made with `key` ('*' = any key). Faults are consumed first-queued first. */
  fault(key: string, fault: Fault, times = 1): void {
    if (!(times > 0)) throw new Error(`fault(): times must be > 0, got ${times}`)
    this.faults.push({key, fault, remaining: times})
  }

  clearFaults(): void {
    this.faults.length = 0
  }

  /** Requests of `key` now in progress ('*' = all keys). */
  inFlight(key: string): number {
    return this.current.get(key) ?? 0
  }

  /** The highest number of simultaneous requests seen for `key` ('*' = all keys together). */
  maxInFlight(key: string): number {
    return this.highest.get(key) ?? 0
  }

  /** The key that made stored response `id` (undefined: never made, deleted, `store: false`, or Responses not served). */
  responseOwner(id: string): string | undefined {
    return this.responses?.ownerOf(id)
  }

  /** Forget recorded requests, `responsesSeen`, per-key counts and maxima (maxima restart from the requests now in flight; stored responses stay). */
  resetStats(): void {
    this.requests.length = 0
    this.responsesSeen.length = 0
    this.perKey.clear()
    this.highest.clear()
    for (const [k, v] of this.current) if (v > 0) this.highest.set(k, v)
  }

  /** Stop listening and destroy every socket, hanging requests included. */
  close(): Promise<void> {
    return this.http.close()
  }

  private track(key: string, res: ServerResponse): void {
    for (const k of new Set([key, '*'])) {
      const n = (this.current.get(k) ?? 0) + 1
      this.current.set(k, n)
      if (n > (this.highest.get(k) ?? 0)) this.highest.set(k, n)
    }
    let done = false
    const finished = () => {
      if (done) return
      done = true
      for (const k of new Set([key, '*'])) this.current.set(k, (this.current.get(k) ?? 1) - 1)
    }
    res.once('finish', finished)
    res.once('close', finished)
  }

  private takeFault(key: string): Fault | undefined {
    const i = this.faults.findIndex((f) => f.key === key || f.key === '*')
    if (i === -1) return undefined
    const queued = this.faults[i]
    queued.remaining -= 1
    if (queued.remaining <= 0) this.faults.splice(i, 1)
    return queued.fault
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const arrival = Date.now()
    const auth = req.headers.authorization ?? ''
    const match = /^Bearer\s+(.+)$/i.exec(auth)
    const key = match ? match[1].trim() : ''
    const keyCount = (this.perKey.get(key) ?? 0) + 1
    this.perKey.set(key, keyCount)
    this.track(key, res)
    res.on('error', () => {})
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      key,
      headers: {...req.headers},
      body: undefined,
      at: arrival,
    }
    this.requests.push(record)
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('error', () => {})
    req.on('end', () => {
      const bodyText = Buffer.concat(chunks).toString('utf8')
      let body: unknown
      if (bodyText !== '') {
        try {
          body = JSON.parse(bodyText)
        } catch {
          body = bodyText
        }
      }
      record.body = body
      const ctx: Context = {
        req,
        res,
        method: record.method,
        pathname: new URL(record.path, 'http://fake.invalid').pathname,
        key,
        seq: ++this.counter,
        arrival,
        keyCount,
        body,
        bodyText,
        stream: isRecord(body) && body.stream === true,
        delayMs: this.options.latencyMs ?? 0,
        chunkDelayMs: this.options.chunkDelayMs ?? 0,
        delayFirstChunk: false,
      }
      this.respond(ctx).catch((error: unknown) => {
        if (res.headersSent) {
          res.destroy()
          return
        }
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
        this.writeJson(ctx, 500, envelope(`fake upstream bug: ${message}`, 'server_error', null, null))
      })
    })
  }

  private headers(ctx: Context, contentType: string, extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = {
      'content-type': contentType,
      'x-request-id': `req_${ctx.seq}`,
      'openai-organization': 'org-fake',
      'openai-processing-ms': String(Date.now() - ctx.arrival),
      'openai-version': '2020-10-01',
      'x-ratelimit-limit-requests': String(RATE_LIMIT_REQUESTS),
      'x-ratelimit-remaining-requests': String(Math.max(0, RATE_LIMIT_REQUESTS - ctx.keyCount)),
      'x-ratelimit-reset-requests': '6ms',
    }
    for (const [k, v] of Object.entries(extra)) headers[k.toLowerCase()] = v
    return headers
  }

  /** Wait; false when the fake is closing or the client went away. */
  private async wait(ctx: Context, ms: number): Promise<boolean> {
    if (ms > 0) {
      try {
        await sleep(ms, undefined, {signal: this.http.stopping.signal})
      } catch {
        return false
      }
    }
    return !ctx.res.destroyed && !this.http.stopping.signal.aborted
  }

  private writeJson(ctx: Context, status: number, payload: unknown, extra: Record<string, string> = {}): void {
    if (ctx.res.destroyed || ctx.res.headersSent) return
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload)
    const body = Buffer.from(text, 'utf8')
    ctx.res.writeHead(status, {...this.headers(ctx, 'application/json', extra), 'content-length': String(body.length)})
    ctx.res.end(body)
  }

  private async sendJson(
    ctx: Context,
    status: number,
    payload: unknown,
    extra: Record<string, string> = {},
  ): Promise<void> {
    if (!(await this.wait(ctx, ctx.delayMs))) return
    if (ctx.dieAfterChunks !== undefined) {
      const body = Buffer.from(JSON.stringify(payload), 'utf8')
      ctx.res.writeHead(status, {
        ...this.headers(ctx, 'application/json', extra),
        'content-length': String(body.length),
      })
      ctx.res.write(body.subarray(0, Math.floor(body.length / 2)))
      this.kill(ctx)
      return
    }
    this.writeJson(ctx, status, payload, extra)
  }

  /** Flush what was written, then destroy the connection (the client sees a truncated response). */
  private kill(ctx: Context): void {
    const socket = ctx.res.socket
    if (!socket) return
    socket.end(() => socket.destroy())
  }

  /** `done`: end with `data: [DONE]` (chat and legacy streams; Responses streams just end). */
  private async sendStream(ctx: Context, events: StreamEvent[], done = true): Promise<void> {
    const {res} = ctx
    if (res.destroyed) return
    res.writeHead(200, this.headers(ctx, 'text/event-stream; charset=utf-8', {'cache-control': 'no-cache'}))
    res.flushHeaders()
    const die = ctx.dieAfterChunks
    let content = 0
    let first = true
    for (const event of events) {
      if (die !== undefined && event.content && content >= die) {
        this.kill(ctx)
        return
      }
      const delay = first && !ctx.delayFirstChunk ? 0 : ctx.chunkDelayMs
      first = false
      if (!(await this.wait(ctx, delay))) return
      res.write(`${event.event === undefined ? '' : `event: ${event.event}\n`}data: ${JSON.stringify(event.data)}\n\n`)
      if (event.content) content++
      if (die !== undefined && die > 0 && content >= die && event.content) {
        this.kill(ctx)
        return
      }
    }
    if (die !== undefined) {
      this.kill(ctx)
      return
    }
    if (!done) {
      res.end()
      return
    }
    if (!(await this.wait(ctx, first && !ctx.delayFirstChunk ? 0 : ctx.chunkDelayMs))) return
    res.end('data: [DONE]\n\n')
  }

  private async respond(ctx: Context): Promise<void> {
    const fault = this.takeFault(ctx.key)
    if (fault) {
      switch (fault.type) {
        case 'status': {
          const payload = fault.body ?? errorEnvelope(fault.status)
          const extra = {...(fault.status === 429 ? {'x-ratelimit-remaining-requests': '0'} : {}), ...fault.headers}
          if (!(await this.wait(ctx, ctx.delayMs))) return
          this.writeJson(ctx, fault.status, payload, extra)
          return
        }
        case 'hang':
          return
        case 'die-before-body':
          ctx.res.writeHead(
            200,
            this.headers(ctx, ctx.stream ? 'text/event-stream; charset=utf-8' : 'application/json'),
          )
          ctx.res.flushHeaders()
          this.kill(ctx)
          return
        case 'garbage':
          if (ctx.stream) {
            ctx.res.writeHead(200, this.headers(ctx, 'text/event-stream; charset=utf-8'))
            ctx.res.end('data: {"id": "chatcmpl-garbage", this is not json\n\ndata: [DONE]\n\n')
          } else {
            if (!(await this.wait(ctx, ctx.delayMs))) return
            this.writeJson(ctx, 200, '{"id": "chatcmpl-garbage", "object": <html>this is not json</html>')
          }
          return
        case 'die-mid-stream':
          ctx.dieAfterChunks = Math.max(0, Math.floor(fault.afterChunks))
          break
        case 'slow':
          ctx.delayMs = fault.chunkDelayMs
          ctx.chunkDelayMs = fault.chunkDelayMs
          ctx.delayFirstChunk = true
          break
      }
    }
    try {
      await this.route(ctx)
    } catch (error) {
      if (!(error instanceof HttpError)) throw error
      // errors are plain JSON even for stream requests (a die-mid-stream fault cuts them in half)
      await this.sendJson(ctx, error.status, error.envelope)
    }
  }

  private async route(ctx: Context): Promise<void> {
    if (ctx.key === '') {
      throw invalid(
        null,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        null,
        401,
      )
    }
    if (this.options.keys && !this.options.keys.includes(ctx.key)) {
      const masked = ctx.key.length > 8 ? `${ctx.key.slice(0, 3)}****${ctx.key.slice(-4)}` : '****'
      throw invalid(
        null,
        `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        'invalid_api_key',
        401,
      )
    }
    const {method, pathname} = ctx
    if (this.responses?.serves(pathname)) {
      await this.responses.handle({
        method,
        pathname,
        query: new URL(ctx.req.url ?? '/', 'http://fake.invalid').searchParams,
        key: ctx.key,
        body: ctx.body,
        json: (status, payload) => this.sendJson(ctx, status, payload),
        stream: (events) => this.sendStream(ctx, events, false),
      })
      return
    }
    if (method === 'GET' && pathname === '/v1/models') {
      await this.sendJson(ctx, 200, {object: 'list', data: this.models.map((id) => this.model(id))})
      return
    }
    if (method === 'GET' && pathname.startsWith('/v1/models/')) {
      const id = decodeURIComponent(pathname.slice('/v1/models/'.length))
      if (!this.models.includes(id)) throw invalid('model', `The model '${id}' does not exist`, 'model_not_found', 404)
      await this.sendJson(ctx, 200, this.model(id))
      return
    }
    const handlers: Record<string, (ctx: Context, body: Json) => Promise<void>> = {
      '/v1/chat/completions': (c, b) => this.chat(c, b),
      '/v1/completions': (c, b) => this.completions(c, b),
      '/v1/embeddings': (c, b) => this.embeddings(c, b),
      '/v1/images/generations': (c, b) => this.images(c, b),
    }
    const handler = method === 'POST' ? handlers[pathname] : undefined
    if (!handler) throw invalid(null, `Invalid URL (${method} ${pathname})`, null, 404)
    if (!isRecord(ctx.body)) {
      throw notJson()
    }
    await handler(ctx, ctx.body)
  }

  private model(id: string) {
    return {id, object: 'model', created: MODEL_CREATED, owned_by: 'fake'}
  }

  private answer(body: Json, choiceIndex: number): string {
    return (this.options.answer ?? defaultAnswer)(body, choiceIndex)
  }

  private async chat(ctx: Context, body: Json): Promise<void> {
    const model = requiredString(body, 'model')
    const messages = required(body, 'messages')
    if (!Array.isArray(messages)) throw wrongType('messages', 'an array', messages)
    if (messages.length === 0)
      throw invalid(
        'messages',
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        'empty_array',
      )
    messages.forEach((m, i) => {
      if (!isRecord(m)) throw wrongType(`messages[${i}]`, 'an object', m)
      if (
        typeof m.role !== 'string' ||
        !['developer', 'system', 'user', 'assistant', 'tool', 'function'].includes(m.role)
      ) {
        throw invalid(
          `messages[${i}].role`,
          `Invalid value for 'messages[${i}].role': expected one of 'developer', 'system', 'user', 'assistant', 'tool' or 'function'.`,
          'invalid_value',
        )
      }
    })
    const n = optionalInteger(body, 'n', 1, 10) ?? 1
    const stream = optionalBoolean(body, 'stream') ?? false
    const includeUsage = streamOptions(body, stream)
    const maxWords =
      optionalInteger(body, 'max_completion_tokens', 0, Number.MAX_SAFE_INTEGER) ??
      optionalInteger(body, 'max_tokens', 0, Number.MAX_SAFE_INTEGER)
    const stop = stopSequences(body)
    const logprobs = optionalBoolean(body, 'logprobs') ?? false
    const top = optionalInteger(body, 'top_logprobs', 0, 20)
    if (top !== undefined && !logprobs)
      throw invalid(
        'top_logprobs',
        "Invalid value for 'top_logprobs': you must also set 'logprobs' to true",
        'invalid_value',
      )

    const id = `chatcmpl-fake${String(ctx.seq).padStart(6, '0')}`
    const created = Math.floor(Date.now() / 1000)
    const calls = requestedToolCalls(body)
    if (calls.length > 0) {
      await this.chatToolCalls(ctx, {
        id,
        created,
        model,
        stream,
        includeUsage,
        calls,
        promptTokens: messages.reduce(
          (sum: number, m) => sum + (isRecord(m) ? countWords(contentText(m.content)) : 0),
          0,
        ),
      })
      return
    }

    const results = Array.from({length: n}, (_, k) => generate(this.answer(body, k), stop, maxWords))
    const promptTokens = messages.reduce(
      (sum: number, m) => sum + (isRecord(m) ? countWords(contentText(m.content)) : 0),
      0,
    )
    const completionTokens = results.reduce((sum, r) => sum + r.tokens.length, 0)
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    }
    const entry = (t: string, i: number) => chatLogprob(t, i, top ?? 0)

    if (!stream) {
      await this.sendJson(ctx, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: results.map((r, k) => ({
          index: k,
          message: {role: 'assistant', content: r.text, refusal: null},
          logprobs: logprobs ? {content: r.tokens.map(entry), refusal: null} : null,
          finish_reason: r.finish,
        })),
        usage,
        system_fingerprint: 'fp_fake',
      })
      return
    }

    const chunk = (choice: Json): StreamEvent['data'] => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      system_fingerprint: 'fp_fake',
      choices: [choice],
      ...(includeUsage ? {usage: null} : {}),
    })
    const sequences = results.map((r, k): StreamEvent[] => [
      {
        data: chunk({index: k, delta: {role: 'assistant', content: ''}, logprobs: null, finish_reason: null}),
        content: false,
      },
      ...r.tokens.map((t, i) => ({
        data: chunk({
          index: k,
          delta: {content: t},
          logprobs: logprobs ? {content: [entry(t, i)], refusal: null} : null,
          finish_reason: null,
        }),
        content: t !== '',
      })),
      {data: chunk({index: k, delta: {}, logprobs: null, finish_reason: r.finish}), content: false},
    ])
    const events = interleave(sequences)
    if (includeUsage)
      events.push({
        data: {id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake', choices: [], usage},
        content: false,
      })
    await this.sendStream(ctx, events)
  }

  /** The answer is tool calls (see fake-openai-tools.ts): one message with them, or a stream of fragments per call `index`. */
  private async chatToolCalls(
    ctx: Context,
    a: {
      id: string
      created: number
      model: string
      stream: boolean
      includeUsage: boolean
      calls: FakeToolCall[]
      promptTokens: number
    },
  ): Promise<void> {
    const completion = a.calls.reduce((sum, c) => sum + Math.ceil(c.arguments.length / 4), 0)
    const usage = {
      prompt_tokens: a.promptTokens,
      completion_tokens: completion,
      total_tokens: a.promptTokens + completion,
    }
    const toolCalls = a.calls.map((c) => ({
      id: c.id,
      type: 'function',
      function: {name: c.name, arguments: c.arguments},
    }))
    if (!a.stream) {
      await this.sendJson(ctx, 200, {
        id: a.id,
        object: 'chat.completion',
        created: a.created,
        model: a.model,
        choices: [
          {
            index: 0,
            message: {role: 'assistant', content: null, tool_calls: toolCalls, refusal: null},
            logprobs: null,
            finish_reason: 'tool_calls',
          },
        ],
        usage,
        system_fingerprint: 'fp_fake',
      })
      return
    }

    const chunk = (delta: Json, finish: string | null = null): StreamEvent['data'] => ({
      id: a.id,
      object: 'chat.completion.chunk',
      created: a.created,
      model: a.model,
      system_fingerprint: 'fp_fake',
      choices: [{index: 0, delta, logprobs: null, finish_reason: finish}],
      ...(a.includeUsage ? {usage: null} : {}),
    })
    const events: StreamEvent[] = [{data: chunk({role: 'assistant', content: null}), content: false}]
    a.calls.forEach((c, index) => {
      events.push({
        data: chunk({tool_calls: [{index, id: c.id, type: 'function', function: {name: c.name, arguments: ''}}]}),
        content: false,
      })
      for (const piece of argumentPieces(c.arguments))
        events.push({data: chunk({tool_calls: [{index, function: {arguments: piece}}]}), content: true})
    })
    events.push({data: chunk({}, 'tool_calls'), content: false})
    if (a.includeUsage)
      events.push({
        data: {
          id: a.id,
          object: 'chat.completion.chunk',
          created: a.created,
          model: a.model,
          system_fingerprint: 'fp_fake',
          choices: [],
          usage,
        },
        content: false,
      })
    await this.sendStream(ctx, events)
  }

  private async completions(ctx: Context, body: Json): Promise<void> {
    const model = requiredString(body, 'model')
    const prompt = required(body, 'prompt')
    let prompts: string[]
    if (typeof prompt === 'string') prompts = [prompt]
    else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((p) => typeof p === 'string')) prompts = prompt
    else throw wrongType('prompt', 'a string or an array of strings', prompt)
    const n = optionalInteger(body, 'n', 1, 128) ?? 1
    const stream = optionalBoolean(body, 'stream') ?? false
    const includeUsage = streamOptions(body, stream)
    const maxWords = optionalInteger(body, 'max_tokens', 0, Number.MAX_SAFE_INTEGER) ?? 16
    const echo = optionalBoolean(body, 'echo') ?? false
    const stop = stopSequences(body)
    const logprobs = optionalInteger(body, 'logprobs', 0, 5)

    const id = `cmpl-fake${String(ctx.seq).padStart(6, '0')}`
    const created = Math.floor(Date.now() / 1000)
    const choices = prompts.flatMap((p, promptIdx) => {
      const asChat = {...body, prompt: p, messages: [{role: 'user', content: p}]}
      return Array.from({length: n}, (_, k) => ({
        index: promptIdx * n + k,
        prompt: p,
        result: generate(this.answer(asChat, k), stop, maxWords),
      }))
    })
    const promptTokens = prompts.reduce((sum, p) => sum + countWords(p), 0)
    const completionTokens = choices.reduce((sum, c) => sum + c.result.tokens.length, 0)
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    }

    if (!stream) {
      await this.sendJson(ctx, 200, {
        id,
        object: 'text_completion',
        created,
        model,
        system_fingerprint: 'fp_fake',
        choices: choices.map((c) => {
          const promptTokensOfChoice = echo ? tokenize(c.prompt) : []
          return {
            text: (echo ? c.prompt : '') + c.result.text,
            index: c.index,
            logprobs:
              logprobs === undefined
                ? null
                : mergeLegacy(
                    legacyLogprobs(promptTokensOfChoice, logprobs),
                    legacyLogprobs(c.result.tokens, logprobs, 0, echo ? c.prompt.length : 0),
                  ),
            finish_reason: c.result.finish,
          }
        }),
        usage,
      })
      return
    }

    const chunk = (choice: Json) => ({
      id,
      object: 'text_completion',
      created,
      model,
      system_fingerprint: 'fp_fake',
      choices: [choice],
    })
    const sequences = choices.map((c): StreamEvent[] => {
      const events: StreamEvent[] = []
      if (echo) {
        const lp = logprobs === undefined ? null : legacyLogprobs(tokenize(c.prompt), logprobs)
        events.push({
          data: chunk({text: c.prompt, index: c.index, logprobs: lp, finish_reason: null}),
          content: c.prompt !== '',
        })
      }
      let offset = echo ? c.prompt.length : 0
      c.result.tokens.forEach((t, i) => {
        const lp = logprobs === undefined ? null : legacyLogprobs([t], logprobs, i, offset)
        offset += t.length
        events.push({data: chunk({text: t, index: c.index, logprobs: lp, finish_reason: null}), content: t !== ''})
      })
      events.push({
        data: chunk({text: '', index: c.index, logprobs: null, finish_reason: c.result.finish}),
        content: false,
      })
      return events
    })
    const events = interleave(sequences)
    if (includeUsage)
      events.push({
        data: {id, object: 'text_completion', created, model, system_fingerprint: 'fp_fake', choices: [], usage},
        content: false,
      })
    await this.sendStream(ctx, events)
  }

  private async embeddings(ctx: Context, body: Json): Promise<void> {
    const model = requiredString(body, 'model')
    const input = required(body, 'input')
    const isTokens = (v: unknown): v is number[] =>
      Array.isArray(v) && v.length > 0 && v.every((t) => typeof t === 'number' && Number.isInteger(t) && t >= 0)
    let items: Array<string | number[]>
    if (typeof input === 'string') items = [input]
    else if (isTokens(input)) items = [input]
    else if (Array.isArray(input) && input.length > 0 && input.every((s) => typeof s === 'string')) items = input
    else if (Array.isArray(input) && input.length > 0 && input.every(isTokens)) items = input
    else
      throw invalid(
        'input',
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        null,
      )
    if (items.some((item) => item === ''))
      throw invalid(
        'input',
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        null,
      )
    const format = body.encoding_format ?? 'float'
    if (format !== 'float' && format !== 'base64')
      throw invalid(
        'encoding_format',
        `Invalid value for 'encoding_format': expected one of 'float' or 'base64', but got ${JSON.stringify(format)} instead.`,
        'invalid_value',
      )
    const dimensions = optionalInteger(body, 'dimensions', 1, 4096) ?? 8
    const tokens = items.reduce((sum, item) => sum + (typeof item === 'string' ? countWords(item) : item.length), 0)
    await this.sendJson(ctx, 200, {
      object: 'list',
      data: items.map((item, index) => {
        const vector = fakeEmbedding(item, dimensions)
        return {object: 'embedding', index, embedding: format === 'base64' ? float32Base64(vector) : vector}
      }),
      model,
      usage: {prompt_tokens: tokens, total_tokens: tokens},
    })
  }

  private async images(ctx: Context, body: Json): Promise<void> {
    const prompt = requiredString(body, 'prompt')
    const model = body.model === undefined || body.model === null ? 'dall-e-2' : body.model
    if (typeof model !== 'string') throw wrongType('model', 'a string', model)
    const n = optionalInteger(body, 'n', 1, 10) ?? 1
    if (model === 'dall-e-3' && n !== 1) throw invalid('n', 'You must provide n=1 for this model.', 'invalid_value')
    const format = body.response_format ?? 'url'
    if (format !== 'url' && format !== 'b64_json')
      throw invalid(
        'response_format',
        `Invalid value for 'response_format': expected one of 'url' or 'b64_json', but got ${JSON.stringify(format)} instead.`,
        'invalid_value',
      )
    await this.sendJson(ctx, 200, {
      created: Math.floor(Date.now() / 1000),
      data: Array.from({length: n}, (_, i) => ({
        ...(model === 'dall-e-3' ? {revised_prompt: `${prompt} (revised by the fake upstream)`} : {}),
        ...(format === 'url' ? {url: `https://fake.example/img/${i}.png`} : {b64_json: FAKE_PNG_BASE64}),
      })),
    })
  }
}

function mergeLegacy(
  a: ReturnType<typeof legacyLogprobs>,
  b: ReturnType<typeof legacyLogprobs>,
): ReturnType<typeof legacyLogprobs> {
  return {
    tokens: [...a.tokens, ...b.tokens],
    token_logprobs: [...a.token_logprobs, ...b.token_logprobs],
    top_logprobs: [...a.top_logprobs, ...b.top_logprobs],
    text_offset: [...a.text_offset, ...b.text_offset],
  }
}
