import {randomId} from '../../../core/random-id.js'

import type {ChatCompletion, ChatFinishReason, ChatToolCall, ChatUsage} from '../chat/types.js'
import {UpstreamFormatError, UpstreamStreamError} from '../errors.js'
import {isObject} from './input.js'

/**
 * A Responses upstream's answers → chat: the complete Response object, and the pieces the
 * stream decoder shares with it (usage, finish reason, the upstream's failure).
 */

type Json = Record<string, unknown>

const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0)

export const newChatId = () => `chatcmpl-${randomId(15, 'base64url')}`

export function responsesUsageToChat(usage: unknown): ChatUsage | undefined {
  if (!isObject(usage)) return undefined
  const input = count(usage.input_tokens)
  const output = count(usage.output_tokens)
  const inputDetails = isObject(usage.input_tokens_details) ? usage.input_tokens_details : {}
  const outputDetails = isObject(usage.output_tokens_details) ? usage.output_tokens_details : {}
  return {
    prompt_tokens: input,
    completion_tokens: output,
    total_tokens: typeof usage.total_tokens === 'number' ? usage.total_tokens : input + output,
    prompt_tokens_details: {cached_tokens: count(inputDetails.cached_tokens)},
    completion_tokens_details: {reasoning_tokens: count(outputDetails.reasoning_tokens)},
  }
}

/** How a finished response ended, in chat's terms. */
export function finishReasonOf(response: Json, madeCalls: boolean): ChatFinishReason {
  if (response.status === 'incomplete') {
    const reason = isObject(response.incomplete_details) ? response.incomplete_details.reason : undefined
    return reason === 'content_filter' ? 'content_filter' : 'length'
  }

  return madeCalls ? 'tool_calls' : 'stop'
}

/** The upstream's own report of a failure, kept as it said it (a rate limit stays a 429). */
export function upstreamFailure(error: unknown, fallback: string): UpstreamStreamError {
  const message =
    isObject(error) && typeof error.message === 'string' && error.message !== '' ? error.message : fallback
  const code =
    isObject(error) && typeof error.code === 'string' && error.code !== '' ? error.code : 'upstream_stream_error'
  return new UpstreamStreamError(message, code, code === 'rate_limit_exceeded' ? 429 : 502)
}

/** A custom tool call travels on chat as a function call whose one argument is its input. */
export function toolCallOf(item: Json): ChatToolCall | undefined {
  const id = typeof item.call_id === 'string' ? item.call_id : ''
  const name = typeof item.name === 'string' ? item.name : ''
  if (item.type === 'function_call')
    return {id, type: 'function', function: {name, arguments: typeof item.arguments === 'string' ? item.arguments : ''}}
  if (item.type === 'custom_tool_call')
    return {
      id,
      type: 'function',
      function: {name, arguments: JSON.stringify({input: typeof item.input === 'string' ? item.input : ''})},
    }
  return undefined
}

type Folded = {text: string; refusal: string; reasoning: string; calls: ChatToolCall[]}

function fold(output: readonly unknown[]): Folded {
  const folded: Folded = {text: '', refusal: '', reasoning: '', calls: []}
  for (const item of output) {
    if (!isObject(item)) continue
    const call = toolCallOf(item)
    if (call) folded.calls.push(call)
    const parts = item.type === 'message' ? item.content : item.type === 'reasoning' ? item.summary : undefined
    for (const part of Array.isArray(parts) ? parts : []) {
      if (!isObject(part)) continue
      if (part.type === 'output_text' && typeof part.text === 'string') folded.text += part.text
      else if (part.type === 'refusal' && typeof part.refusal === 'string') folded.refusal += part.refusal
      else if (part.type === 'summary_text' && typeof part.text === 'string') folded.reasoning += part.text
    }
  }

  return folded
}

/** A complete Response object → a chat completion. Reasoning summaries only with `reasoningContent`. */
export function responseToChatCompletion(
  response: unknown,
  options: {id?: string; reasoningContent?: boolean} = {},
): ChatCompletion {
  if (!isObject(response) || !Array.isArray(response.output))
    throw new UpstreamFormatError('The upstream sent something that is not a Responses API response object.')
  if (response.status === 'failed')
    throw upstreamFailure(response.error, 'The upstream reported that the response failed.')
  const {text, refusal, reasoning, calls} = fold(response.output)
  const usage = responsesUsageToChat(response.usage)
  return {
    id: options.id ?? newChatId(),
    object: 'chat.completion',
    created: typeof response.created_at === 'number' ? Math.floor(response.created_at) : Math.floor(Date.now() / 1000),
    model: typeof response.model === 'string' ? response.model : '',
    ...(typeof response.service_tier === 'string' && {service_tier: response.service_tier}),
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text === '' && calls.length > 0 ? null : text,
          refusal: refusal === '' ? null : refusal,
          ...(calls.length > 0 && {tool_calls: calls}),
          ...(options.reasoningContent && reasoning !== '' && {reasoning_content: reasoning}),
        },
        logprobs: null,
        finish_reason: finishReasonOf(response, calls.length > 0),
      },
    ],
    ...(usage && {usage}),
  }
}
