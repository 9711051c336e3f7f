import {badRequest} from '../errors.js'
import {exchange, exchangeInSession, resolveModel} from '../exchange.js'
import {isObject, readJson, sessionHeader} from '../http.js'
import {ChatEncoder} from '../protocols/chat/encoder.js'
import {ChatPassthrough} from '../protocols/chat/byte-relay.js'
import type {ChatRequest} from '../protocols/chat/types.js'
import type {RequestContext} from '../router.js'

/** The few checks gptconv needs itself; everything else is the upstream's to judge. */
export function validateChat(body: unknown): ChatRequest {
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.')
  if (typeof body.model !== 'string' || body.model === '')
    throw badRequest('you must provide a model parameter', 'model')
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    throw badRequest('`messages` must be a non-empty array of messages.', 'messages')
  if (!body.messages.every((m) => isObject(m) && typeof m.role === 'string'))
    throw badRequest('Every message must be an object with a string `role`.', 'messages')
  if (body.stream !== undefined && typeof body.stream !== 'boolean')
    throw badRequest('`stream` must be a boolean.', 'stream')
  if (body.stream_options !== undefined && body.stream_options !== null && !isObject(body.stream_options))
    throw badRequest('`stream_options` must be an object.', 'stream_options')
  return body as ChatRequest
}

/**
 * `POST /v1/chat/completions`: chat is the pivot, so the body is both what an OpenAI-protocol
 * upstream gets as it is and what other upstreams' adapters convert. With `X-Session-Id`
 * the daemon keeps the conversation.
 */
export async function chatCompletions(rc: RequestContext): Promise<void> {
  const body = validateChat(await readJson(rc.req, rc.daemon.registry.settings.server.bodyLimitBytes))
  const model = resolveModel(rc, body.model)
  const stream = body.stream === true
  const wantUsage = isObject(body.stream_options) && body.stream_options.include_usage === true
  const spec = {
    endpoint: 'chat' as const,
    model,
    native: body,
    relay: () => new ChatPassthrough(wantUsage),
    pivots: [body],
    stream,
    encoder: stream ? new ChatEncoder(wantUsage) : undefined,
    answer: ([chat]: unknown[]) => ({body: chat}),
  }
  const sessionId = sessionHeader(rc.req)
  if (sessionId === undefined) {
    await exchange(rc, spec)
    return
  }

  rc.res.setHeader('x-session-id', sessionId)
  const maxTokens =
    typeof body.max_tokens === 'number'
      ? body.max_tokens
      : typeof body.max_completion_tokens === 'number'
        ? body.max_completion_tokens
        : undefined
  await exchangeInSession(rc, sessionId, spec, maxTokens)
}
