import type {ChatMessage, ChatRequest} from '../chat/types.js'
import {InvalidRequestError} from '../errors.js'
import {newId} from './ids.js'
import {isObject, resolveInput} from './input.js'
import {itemsToMessages} from './messages.js'
import {
  checkAccepted,
  decodeMetadata,
  decodeReasoning,
  decodeText,
  optBoolean,
  optNumber,
  optString,
  refuseServerState,
} from './params.js'
import {decodeToolChoice, decodeTools} from './tools.js'
import type {IdMaker, InputItem, ResponseEcho, ResponsesHistory, ResponsesPlan} from './types.js'

/**
 * A Responses request (`POST /v1/responses`) → the chat pivot request, the input items to
 * keep and what the Response object echoes. `instructions` become a leading system message
 * of this call only (they are not carried over by `previous_response_id`); a
 * `previous_response_id` puts the stored response's input and output before the new input.
 * Fields with no chat meaning that only steer OpenAI's servers (`include`, `store`,
 * `truncation`, `max_tool_calls`, `stream_options`, unknown fields) are accepted and not sent;
 * fields that need server-side state (`background`, `conversation`, `prompt`) are refused.
 */

function earlierTurns(
  body: Record<string, unknown>,
  history: ResponsesHistory | undefined,
): {id: string | null; items: InputItem[]} {
  const id = optString(body, 'previous_response_id')
  if (id === undefined) return {id: null, items: []}
  const stored = history?.response(id)
  if (!stored)
    throw new InvalidRequestError(
      `Previous response with id '${id}' not found.`,
      'previous_response_id',
      'previous_response_not_found',
    )
  return {id, items: [...stored.input, ...stored.output]}
}

type SamplingEcho = Omit<
  ResponseEcho,
  'instructions' | 'metadata' | 'parallel_tool_calls' | 'previous_response_id' | 'store' | 'tool_choice' | 'tools'
>

/** The sampling and output parameters: chat fields and their echo. */
function sampling(body: Record<string, unknown>): {chat: Record<string, unknown>; echo: SamplingEcho} {
  const temperature = optNumber(body, 'temperature', 0, 2)
  const topP = optNumber(body, 'top_p', 0, 1)
  const maxOutput = optNumber(body, 'max_output_tokens', 1, Number.MAX_SAFE_INTEGER, true)
  const topLogprobs = optNumber(body, 'top_logprobs', 0, 20, true)
  const accepted = checkAccepted(body)
  const text = decodeText(body)
  const reasoning = decodeReasoning(body)
  const strings = Object.fromEntries(
    ['user', 'safety_identifier', 'prompt_cache_key', 'service_tier'].flatMap((name) => {
      const value = optString(body, name)
      return value === undefined ? [] : [[name, value]]
    }),
  ) as Record<string, string>
  const wantLogprobs = topLogprobs !== undefined || accepted.include.includes('message.output_text.logprobs')
  const chat = {
    ...(temperature !== undefined && {temperature}),
    ...(topP !== undefined && {top_p: topP}),
    ...(maxOutput !== undefined && {max_completion_tokens: maxOutput}),
    ...(wantLogprobs && {logprobs: true}),
    ...(topLogprobs !== undefined && {top_logprobs: topLogprobs}),
    ...(text.responseFormat !== undefined && {response_format: text.responseFormat}),
    ...(text.verbosity !== undefined && {verbosity: text.verbosity}),
    ...(reasoning.effort !== undefined && {reasoning_effort: reasoning.effort}),
    ...strings,
  }
  const {service_tier: tier, ...echoStrings} = strings
  const echo: SamplingEcho = {
    max_output_tokens: maxOutput ?? null,
    max_tool_calls: accepted.maxToolCalls,
    reasoning: reasoning.echo,
    service_tier: tier ?? 'auto',
    temperature: temperature ?? 1,
    text: text.echo,
    top_p: topP ?? 1,
    truncation: accepted.truncation,
    ...(topLogprobs !== undefined && {top_logprobs: topLogprobs}),
    ...echoStrings,
  }
  return {chat, echo}
}

function modelOf(body: Record<string, unknown>): string {
  if (typeof body.model !== 'string' || body.model === '')
    throw new InvalidRequestError('Missing required parameter: `model`.', 'model', 'missing_required_parameter')
  return body.model
}

export function decodeResponsesRequest(
  body: unknown,
  history?: ResponsesHistory,
  options: {newId?: IdMaker} = {},
): ResponsesPlan {
  if (!isObject(body)) throw new InvalidRequestError('The request body must be a JSON object.')
  refuseServerState(body)
  const model = modelOf(body)
  const stream = optBoolean(body, 'stream') ?? false
  const store = optBoolean(body, 'store') ?? true
  const parallel = optBoolean(body, 'parallel_tool_calls')
  const instructions = optString(body, 'instructions')
  const metadata = decodeMetadata(body)
  const tools = decodeTools(body.tools)
  const toolChoice = decodeToolChoice(body.tool_choice, tools)
  const earlier = earlierTurns(body, history)
  const input = [...earlier.items, ...resolveInput(body.input, history, options.newId ?? newId)]
  const messages: ChatMessage[] = [
    ...(instructions ? [{role: 'system', content: instructions}] : []),
    ...itemsToMessages(input),
  ]
  if (messages.length === 0)
    throw new InvalidRequestError('Missing required parameter: `input`.', 'input', 'missing_required_parameter')
  const params = sampling(body)
  const hasTools = tools.chat.length > 0
  const chat: ChatRequest = {
    model,
    messages,
    // chat refuses tool_choice and parallel_tool_calls without tools
    ...(hasTools && {tools: tools.chat}),
    ...(hasTools && toolChoice.chat !== undefined && {tool_choice: toolChoice.chat}),
    ...(hasTools && parallel !== undefined && {parallel_tool_calls: parallel}),
    ...params.chat,
  }
  const echo: ResponseEcho = {
    ...params.echo,
    instructions: instructions ?? null,
    metadata,
    parallel_tool_calls: parallel ?? true,
    previous_response_id: earlier.id,
    store,
    tool_choice: toolChoice.echo,
    tools: tools.echo,
  }
  return {model, stream, store, chat, input, echo, customTools: tools.custom}
}
