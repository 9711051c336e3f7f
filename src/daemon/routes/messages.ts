import {countChatPrompt} from '../../core/tokenizer.js'
import {exchange, exchangeInSession, resolveModel} from '../exchange.js'
import {readJson, sendJson, sessionHeader} from '../http.js'
import {decodeCountTokensRequest, decodeMessagesRequest} from '../protocols/anthropic/request.js'
import {chatCompletionToMessage} from '../protocols/anthropic/response.js'
import {MessagesEncoder} from '../protocols/anthropic/stream.js'
import type {RequestContext} from '../router.js'

/**
 * `POST /v1/messages`: Anthropic's Messages API (Claude Code, the Anthropic SDKs), on every
 * upstream through the chat pivot. Errors come in Anthropic's envelope (the route's
 * `envelope: 'anthropic'`). The path may carry `?beta=true`; routing ignores the query.
 */
export async function createMessage(rc: RequestContext): Promise<void> {
  const plan = decodeMessagesRequest(await readJson(rc.req, rc.daemon.registry.settings.server.bodyLimitBytes))
  const model = resolveModel(rc, plan.model)
  // message_start carries the prompt's size before the upstream reports it
  const encoder = plan.stream
    ? new MessagesEncoder(plan, {inputTokens: await countChatPrompt(plan.chat.messages, model)})
    : undefined
  const spec = {
    endpoint: 'messages' as const,
    model,
    pivots: [plan.chat],
    stream: plan.stream,
    encoder,
    answer: ([chat]: Parameters<typeof chatCompletionToMessage>[0][]) => ({body: chatCompletionToMessage(chat, plan)}),
  }
  const sessionId = sessionHeader(rc.req)
  if (sessionId === undefined) {
    await exchange(rc, spec)
    return
  }

  rc.res.setHeader('x-session-id', sessionId)
  await exchangeInSession(rc, sessionId, spec, plan.chat.max_completion_tokens as number | undefined)
}

/** `POST /v1/messages/count_tokens`: the prompt counted with the model's tokenizer (chat upstreams have no such call). */
export async function countMessageTokens(rc: RequestContext): Promise<void> {
  const plan = decodeCountTokensRequest(await readJson(rc.req, rc.daemon.registry.settings.server.bodyLimitBytes))
  const model = resolveModel(rc, plan.model)
  rc.daemon.registry.requireModel('messages', model, {native: false, pivot: plan.chat})
  const tools = plan.chat.tools === undefined ? [] : [{role: 'system', content: JSON.stringify(plan.chat.tools)}]
  sendJson(
    rc.res,
    200,
    {input_tokens: await countChatPrompt([...tools, ...plan.chat.messages], model)},
    {'request-id': rc.requestId},
  )
}
