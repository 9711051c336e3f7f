import {contentText, countChatPrompt, countText} from '../../core/tokenizer.js'
import {badRequest} from '../errors.js'
import {ResponseTarget, isObject, readJson} from '../http.js'
import type {RequestContext} from '../router.js'
import {type Usage, usageOf} from '../state.js'
import {DONE_EVENT} from '../sse.js'
import {SseRelay, clientGone, endWithError, keptText, streamFailure} from '../stream.js'
import type {ChatMessage} from '../protocols/chat/types.js'
import {SessionStore} from '../sessions.js'
import type {CallSpec, JsonResult, Served} from '../upstream/call.js'

export type ChatBody = Record<string, unknown> & {model: string; messages: Array<Record<string, unknown>>}

/** The few checks gptconv needs itself; everything else is the upstream's to judge. */
export function validateChat(body: unknown): ChatBody {
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.')
  if (typeof body.model !== 'string' || body.model === '') throw badRequest('you must provide a model parameter', 'model')
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw badRequest('`messages` must be a non-empty array of messages.', 'messages')
  if (!body.messages.every((m) => isObject(m) && typeof m.role === 'string')) throw badRequest('Every message must be an object with a string `role`.', 'messages')
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw badRequest('`stream` must be a boolean.', 'stream')
  if (body.stream_options !== undefined && body.stream_options !== null && !isObject(body.stream_options)) throw badRequest('`stream_options` must be an object.', 'stream_options')
  return body as ChatBody
}

/** `POST /v1/chat/completions`: passthrough to OpenAI-protocol upstreams, converted for others (by their adapter). */
export async function chatCompletions(rc: RequestContext): Promise<void> {
  const {daemon} = rc
  const body = validateChat(await readJson(rc.req, daemon.registry.settings.server.bodyLimitBytes))
  const sessionId = sessionHeader(rc)
  if (sessionId === undefined) {
    await answerChat(rc, body)
    return
  }

  // server-side memory: stored history in front, this turn appended once it completed
  rc.res.setHeader('x-session-id', sessionId)
  const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : typeof body.max_completion_tokens === 'number' ? body.max_completion_tokens : undefined
  await daemon.sessions.turn(SessionStore.key(daemon.clientKey, sessionId), body.messages as ChatMessage[], {model: body.model, defaultModel: daemon.registry.settings.defaultModel, maxTokens}, async (turn) => {
    const reply = await answerChat(rc, {...body, messages: turn.messages as ChatBody['messages']}, true)
    if (reply !== undefined) turn.commit(reply)
  })
}

/** The `X-Session-Id` header, checked. */
export function sessionHeader(rc: RequestContext): string | undefined {
  const value = rc.req.headers['x-session-id']
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0 || value.length > 256 || /[\u0000-\u001F]/.test(value)) throw badRequest('`X-Session-Id` must be 1 to 256 printable characters.', 'x-session-id')
  return value
}

/**
 * Answer one chat request, streamed or not. Returns the text of the first choice when the
 * answer completed (for session memory), undefined when it failed after the stream began.
 */
export async function answerChat(rc: RequestContext, body: ChatBody, collect = false): Promise<string | undefined> {
  if (body.stream === true) return streamChat(rc, body, collect)
  const result = await completeChat(rc, body)
  rc.res.writeHead(200, {'x-request-id': rc.requestId, ...result.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(result.text))})
  rc.res.end(result.text)
  return collect ? answerText(result.json, 0) : undefined
}

/** A complete (non-stream) chat answer from the pool, its usage recorded. */
export async function completeChat(rc: RequestContext, body: ChatBody): Promise<JsonResult> {
  const {daemon} = rc
  const model = chatModel(rc, body)
  const startedMs = performance.now()
  const result = await daemon.caller.json({endpoint: 'chat', model, body: {...body, stream: false}, stream: false, signal: rc.signal})
  noteServed(rc, result)
  const reported = usageOf(result.json)
  const usage: Usage = reported ? {...reported, estimated: result.estimatesUsage} : {...(await estimate(body, model, answerText(result.json))), estimated: true}
  daemon.recordUsage(result, {endpoint: 'chat', model, usage, status: 200, startedMs})
  return result
}

/** The model after aliases, checked: some token must serve it, with what the request needs. */
function chatModel(rc: RequestContext, body: ChatBody): string {
  const model = rc.daemon.registry.resolveAlias(body.model)
  rc.meta.model = model
  rc.daemon.registry.requireModel('chat', model, body)
  return model
}

async function streamChat(rc: RequestContext, body: ChatBody, collect: boolean): Promise<string | undefined> {
  const {daemon} = rc
  const model = chatModel(rc, body)
  const startedMs = performance.now()
  const wantUsage = isObject(body.stream_options) && body.stream_options.include_usage === true
  const {relay, served, status} = await relayStream(rc, {endpoint: 'chat', model, body, stream: true, signal: rc.signal}, () => new SseRelay(wantUsage, collect))
  if (served) {
    const usage: Usage = relay.usage ? {...relay.usage, estimated: served.estimatesUsage} : {...(await estimate(body, model, keptText(relay.kept ?? []))), estimated: true}
    daemon.recordUsage(served, {endpoint: 'chat', model, usage, status, startedMs})
  }

  return status === 200 ? relay.text : undefined
}

/**
 * Relay an upstream SSE stream to the client, a fresh `SseRelay` per attempt; the stream
 * ends with [DONE], or with an in-band error once anything was sent. Errors before that throw.
 */
export async function relayStream(rc: RequestContext, spec: CallSpec, newRelay: () => SseRelay): Promise<{relay: SseRelay; served?: Served; status: 200 | 'error'}> {
  const {res} = rc
  let relay = newRelay()
  let served: Served | undefined
  try {
    const result = await rc.daemon.caller.stream(spec, {
      target: new ResponseTarget(res, {'x-request-id': rc.requestId}),
      output: (attempt) => {
        served = attempt
        relay = newRelay()
        return relay
      },
    })
    noteServed(rc, result)
    if (!relay.sawDone && !relay.sawFinish) throw streamFailure(new Error('the stream ended before the answer finished'), result.upstream.name)
    res.end(relay.sawDone ? undefined : DONE_EVENT)
    return {relay, served, status: 200}
  } catch (error) {
    if (!res.headersSent) throw error
    if (!clientGone(rc.signal)) endWithError(res, streamFailure(error, served?.upstream.name ?? 'upstream'))
    return {relay, served, status: 'error'}
  }
}

export function noteServed(rc: RequestContext, served: Served): void {
  rc.meta.token = served.token.label
  rc.meta.attempts = served.attempts
}

/** The text of a chat.completion: of one choice, or of all. */
export function answerText(json: unknown, index?: number): string {
  const choices = (json as {choices?: Array<{index?: number; message?: {content?: unknown}}>} | null)?.choices
  if (!Array.isArray(choices)) return ''
  return choices.filter((c) => index === undefined || (c?.index ?? 0) === index).map((c) => contentText(c?.message?.content)).join('')
}

export async function estimate(body: {messages?: unknown}, model: string, completion: string): Promise<{prompt_tokens: number; completion_tokens: number}> {
  return {prompt_tokens: await countChatPrompt(body.messages, model), completion_tokens: await countText(completion, model)}
}
