import {pipeline} from 'node:stream/promises'

import {contentText, countChatPrompt, countText} from '../../core/tokenizer.js'
import {badRequest} from '../errors.js'
import {SSE_HEADERS, isObject, readJson, responseSink} from '../http.js'
import type {RequestContext} from '../router.js'
import {type Usage, usageOf} from '../state.js'
import {DONE_EVENT} from '../sse.js'
import {SseRelay, endWithError, keptText, streamFailure} from '../stream.js'
import type {Served} from '../upstream/call.js'

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
  const model = daemon.registry.resolveAlias(body.model)
  rc.meta.model = model
  daemon.registry.requireModel('chat', model, body)
  const startedMs = performance.now()
  if (body.stream === true) {
    await streamChat(rc, body, model, startedMs)
    return
  }

  const result = await daemon.caller.json({endpoint: 'chat', model, body, stream: false, signal: rc.signal})
  noteServed(rc, result)
  const reported = usageOf(result.json)
  const usage: Usage = reported ? {...reported, estimated: result.estimatesUsage} : {...(await estimate(body, model, answerText(result.json))), estimated: true}
  daemon.recordUsage(result, {endpoint: 'chat', model, usage, status: 200, startedMs})
  rc.res.writeHead(200, {'x-request-id': rc.requestId, ...result.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(result.text))})
  rc.res.end(result.text)
}

async function streamChat(rc: RequestContext, body: ChatBody, model: string, startedMs: number): Promise<void> {
  const {daemon, res} = rc
  const wantUsage = isObject(body.stream_options) && body.stream_options.include_usage === true
  const upstream = await daemon.caller.stream({endpoint: 'chat', model, body, stream: true, signal: rc.signal})
  noteServed(rc, upstream)
  res.writeHead(200, {'x-request-id': rc.requestId, ...upstream.headers, ...SSE_HEADERS})
  const relay = new SseRelay(wantUsage)
  let status: 200 | 'error' = 200
  try {
    await pipeline(upstream.events, relay, responseSink(res))
    if (!relay.sawDone && !relay.sawFinish) throw streamFailure(new Error('the stream ended before the answer finished'), upstream.upstream.name)
    res.end(relay.sawDone ? undefined : DONE_EVENT)
  } catch (error) {
    status = 'error'
    if (!rc.signal.aborted) endWithError(res, streamFailure(error, upstream.upstream.name))
  }

  const usage: Usage = relay.usage ? {...relay.usage, estimated: upstream.estimatesUsage} : {...(await estimate(body, model, keptText(relay.kept ?? []))), estimated: true}
  daemon.recordUsage(upstream, {endpoint: 'chat', model, usage, status, startedMs})
}

export function noteServed(rc: RequestContext, served: Served): void {
  rc.meta.token = served.token.label
  rc.meta.attempts = served.attempts
}

function answerText(json: unknown): string {
  const choices = (json as {choices?: Array<{message?: {content?: unknown}}>} | null)?.choices
  return Array.isArray(choices) ? choices.map((c) => contentText(c?.message?.content)).join('') : ''
}

export async function estimate(body: {messages?: unknown}, model: string, completion: string): Promise<{prompt_tokens: number; completion_tokens: number}> {
  return {prompt_tokens: await countChatPrompt(body.messages, model), completion_tokens: await countText(completion, model)}
}
