import {setMaxListeners} from 'node:events'

import {countText, encodingFor} from '../../core/tokenizer.js'
import {ApiError, badRequest} from '../errors.js'
import {ResponseTarget, SSE_HEADERS, isObject, readJson} from '../http.js'
import type {ChatChunk, ChatCompletion, ChatUsage} from '../protocols/chat/types.js'
import {ZERO_USAGE, addUsage, chatChunkToLegacyChunks, chatCompletionsToLegacy, legacyUsageChunk, newCompletionId, newStreamState, type LegacyStreamState} from '../protocols/completions/from-chat.js'
import {completionsRequestToChat, parseCompletionsRequest} from '../protocols/completions/to-chat.js'
import type {LegacyCompletion, LegacyPlan, LegacyUsage} from '../protocols/completions/types.js'
import type {RequestContext} from '../router.js'
import {DONE, DONE_EVENT, type SseEvent, formatSse} from '../sse.js'
import {type Usage, usageOf} from '../state.js'
import {SseRelay, type TextStage, clientGone, endWithError, keptText, streamFailure} from '../stream.js'
import type {Served} from '../upstream/call.js'
import {estimate, noteServed, relayStream} from './chat.js'

/** Prompts of one request answered at the same time (each still waits for a free token in the pool). */
const FAN_OUT = 16

/**
 * `POST /v1/completions`. Upstreams marked `legacy: passthrough` serve it natively;
 * everything else gets it converted to chat (protocols.md §1.4): one chat call per
 * prompt, concurrently, merged back into one legacy answer or stream.
 */
export async function completions(rc: RequestContext): Promise<void> {
  const {daemon} = rc
  const body = await readJson(rc.req, daemon.registry.settings.server.bodyLimitBytes)
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.')
  if (typeof body.model !== 'string' || body.model === '') throw badRequest('you must provide a model parameter', 'model')
  const model = daemon.registry.resolveAlias(body.model)
  rc.meta.model = model
  const native = daemon.registry.filterFor('completions', model)
  if (daemon.registry.tokens.some((t) => native(t))) {
    // the upstream judges its own parameters (suffix, echo with logprobs…)
    const options = isObject(body.stream_options) ? body.stream_options : {}
    await passthrough(rc, {...body, model}, model, {stream: body.stream === true, wantUsage: options.include_usage === true})
    return
  }

  const plan = parseCompletionsRequest(body)

  daemon.registry.requireModel('chat', model, completionsRequestToChat({...plan, model}, '', plan.stream))
  const prompts = await decodePrompts(plan.prompts, model)
  const converted = {...plan, model}
  if (plan.maxTokens === 0) await answerLocally(rc, converted, prompts)
  else if (plan.stream && plan.bestOf === undefined) await streamConverted(rc, converted, prompts)
  else await completeConverted(rc, converted, prompts)
}

/** Token-id prompts become text with the model's own encoding. */
async function decodePrompts(prompts: LegacyPlan['prompts'], model: string): Promise<string[]> {
  if (prompts.every((p) => typeof p === 'string')) return prompts as string[]
  const encoding = await encodingFor(model)
  return prompts.map((p) => {
    if (typeof p === 'string') return p
    try {
      return encoding.decode(p)
    } catch {
      throw badRequest(`\`prompt\` holds token ids that the ${model} encoding does not know.`, 'prompt')
    }
  })
}

/** Run `fn` over `items`, at most `limit` at once; the first failure aborts the rest. */
async function fanOut<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i], i)
    }
  }

  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return results
}

/** A controller that aborts with `signal`, shared by the FAN_OUT upstream calls of one request (each listens to it). */
function linkedController(signal: AbortSignal): AbortController {
  const controller = new AbortController()
  setMaxListeners(FAN_OUT + 4, controller.signal)
  if (signal.aborted) controller.abort(signal.reason)
  else signal.addEventListener('abort', () => controller.abort(signal.reason), {once: true})
  return controller
}

async function completeConverted(rc: RequestContext, plan: LegacyPlan, prompts: string[]): Promise<void> {
  const {daemon} = rc
  const controller = linkedController(rc.signal)
  let headers: Record<string, string> = {}
  const parts = await fanOut(prompts, FAN_OUT, async (prompt, i) => {
    const body = completionsRequestToChat(plan, prompt, false)
    const startedMs = performance.now()
    const result = await daemon.caller.json({endpoint: 'chat', model: plan.model, body, stream: false, signal: controller.signal}).catch((error: unknown) => {
      controller.abort(error)
      throw error
    })
    if (i === 0) headers = result.headers
    noteServed(rc, result)
    const chat = result.json as ChatCompletion
    if (!Array.isArray(chat?.choices)) throw new ApiError(502, 'upstream_error', `Upstream ${result.upstream.name} answered without choices.`, {type: 'server_error'})
    const usage = usageOf(chat)
    const text = chat.choices.map((c) => c.message?.content ?? '').join('')
    const counted: Usage = usage ? {...usage, estimated: result.estimatesUsage} : {...(await estimate(body, plan.model, text)), estimated: true}
    daemon.recordUsage(result, {endpoint: 'completions', model: plan.model, usage: counted, status: 200, startedMs})
    return {chat: usage ? chat : {...chat, usage: {...counted, total_tokens: counted.prompt_tokens + counted.completion_tokens}}, prompt}
  })
  const {completion, ranked} = chatCompletionsToLegacy(parts, plan, newCompletionId())
  const extra: Record<string, string> = ranked ? {} : {'x-gptconv-warning': 'best_of: the upstream returned no logprobs to rank by; the first candidates were returned'}
  if (!plan.stream) {
    const text = JSON.stringify(completion)
    rc.res.writeHead(200, {'x-request-id': rc.requestId, ...headers, ...extra, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text))})
    rc.res.end(text)
    return
  }

  // best_of cannot stream: the whole answer is one event (as the legacy API did)
  const {usage, ...event} = completion
  rc.res.writeHead(200, {'x-request-id': rc.requestId, ...headers, ...extra, ...SSE_HEADERS})
  rc.res.write(formatSse(JSON.stringify(event)))
  if (plan.wantUsage) rc.res.write(formatSse(JSON.stringify({...event, choices: [], usage})))
  rc.res.end(DONE_EVENT)
}

/** Chat SSE events of one prompt → legacy SSE text; usage is collected, `[DONE]` held back (the route sends one for all prompts). */
class LegacyStreamConverter implements TextStage {
  usage: ChatUsage | undefined
  sawFinish = false
  kept: string[] = []

  constructor(
    private readonly plan: LegacyPlan,
    private readonly promptIdx: number,
    private readonly prompt: string,
    private readonly state: LegacyStreamState,
  ) {}

  /** Throws an ApiError for an error event or an event that is not JSON. */
  process(events: SseEvent[]): string {
    let out = ''
    for (const event of events) {
      if (event.data === DONE) continue
      let chunk: ChatChunk & {error?: unknown}
      try {
        chunk = JSON.parse(event.data) as typeof chunk
      } catch {
        throw new ApiError(502, 'upstream_error', 'The upstream sent a stream event that is not JSON.', {type: 'server_error'})
      }

      if (chunk.error) throw new ApiError(502, 'upstream_stream_error', `The upstream reported an error in the stream: ${JSON.stringify(chunk.error).slice(0, 300)}`, {type: 'server_error'})

      if (chunk.usage) this.usage = chunk.usage
      else if (this.kept.length < 10_000) this.kept.push(event.data)
      for (const legacy of chatChunkToLegacyChunks(chunk, this.promptIdx, this.prompt, this.plan, this.state)) {
        if (legacy.choices.some((c) => c.finish_reason !== null)) this.sawFinish = true
        out += formatSse(JSON.stringify(legacy))
      }
    }

    return out
  }
}

async function streamConverted(rc: RequestContext, plan: LegacyPlan, prompts: string[]): Promise<void> {
  const {daemon, res} = rc
  const controller = linkedController(rc.signal)
  const state = newStreamState()
  const target = new ResponseTarget(res, {'x-request-id': rc.requestId})
  let total: LegacyUsage = ZERO_USAGE
  try {
    await fanOut(prompts, FAN_OUT, async (prompt, promptIdx) => {
      const body = completionsRequestToChat(plan, prompt, true)
      const startedMs = performance.now()
      let served: Served | undefined
      let converter: LegacyStreamConverter | undefined
      try {
        const result = await daemon.caller.stream({endpoint: 'chat', model: plan.model, body, stream: true, signal: controller.signal}, {
          target,
          output: (attempt) => {
            served = attempt
            converter = new LegacyStreamConverter(plan, promptIdx, prompt, state)
            return converter
          },
        })
        noteServed(rc, result)
        if (!converter!.sawFinish) throw streamFailure(new Error('the stream ended before the answer finished'), result.upstream.name)
      } catch (error) {
        controller.abort(error)
        throw served ? streamFailure(error, served.upstream.name) : error
      } finally {
        if (served && converter) {
          const usage: Usage = converter.usage ? {...converter.usage, estimated: served.estimatesUsage} : {...(await estimate(body, plan.model, keptText(converter.kept))), estimated: true}
          total = addUsage(total, {...usage, total_tokens: 0})
          daemon.recordUsage(served, {endpoint: 'completions', model: plan.model, usage, status: controller.signal.aborted ? 'error' : 200, startedMs})
        }
      }
    })
  } catch (error) {
    if (clientGone(rc.signal)) return
    if (!res.headersSent) throw error
    endWithError(res, streamFailure(error, 'upstream'))
    return
  }

  if (plan.wantUsage) res.write(formatSse(JSON.stringify(legacyUsageChunk(state, plan, total))))
  res.end(DONE_EVENT)
}

/** `max_tokens: 0`: nothing to generate, so no upstream call — the (echoed) prompt and its token count. */
async function answerLocally(rc: RequestContext, plan: LegacyPlan, prompts: string[]): Promise<void> {
  let promptTokens = 0
  for (const prompt of prompts) promptTokens += await countText(prompt, plan.model)
  const completion: LegacyCompletion = {
    id: newCompletionId(),
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: plan.model,
    choices: prompts.flatMap((prompt, p) => Array.from({length: plan.n}, (_, k) => ({text: plan.echo ? prompt : '', index: p * plan.n + k, logprobs: null, finish_reason: 'length' as const}))),
    usage: {prompt_tokens: promptTokens, completion_tokens: 0, total_tokens: promptTokens},
  }
  if (!plan.stream) {
    rc.res.writeHead(200, {'x-request-id': rc.requestId, 'content-type': 'application/json'})
    rc.res.end(JSON.stringify(completion))
    return
  }

  const {usage, ...event} = completion
  rc.res.writeHead(200, {'x-request-id': rc.requestId, ...SSE_HEADERS})
  rc.res.write(formatSse(JSON.stringify(event)))
  if (plan.wantUsage) rc.res.write(formatSse(JSON.stringify({...event, choices: [], usage})))
  rc.res.end(DONE_EVENT)
}

/** Upstreams that still serve `/v1/completions` get the request as it came. */
async function passthrough(rc: RequestContext, body: Record<string, unknown>, model: string, plan: {stream: boolean; wantUsage: boolean}): Promise<void> {
  const {daemon, res} = rc
  const startedMs = performance.now()
  if (!plan.stream) {
    const result = await daemon.caller.json({endpoint: 'completions', model, body, stream: false, signal: rc.signal})
    noteServed(rc, result)
    const usage = usageOf(result.json)
    record(rc, result, model, usage ? {...usage, estimated: false} : {prompt_tokens: 0, completion_tokens: 0, estimated: true}, 200, startedMs)
    res.writeHead(200, {'x-request-id': rc.requestId, ...result.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(result.text))})
    res.end(result.text)
    return
  }

  const {relay, served, status} = await relayStream(rc, {endpoint: 'completions', model, body, stream: true, signal: rc.signal}, () => new SseRelay(plan.wantUsage))
  if (served) record(rc, served, model, relay.usage ? {...relay.usage, estimated: false} : {prompt_tokens: 0, completion_tokens: 0, estimated: true}, status, startedMs)
}

function record(rc: RequestContext, served: Served, model: string, usage: Usage, status: 200 | 'error', startedMs: number): void {
  rc.daemon.recordUsage(served, {endpoint: 'completions', model, usage, status, startedMs})
}
