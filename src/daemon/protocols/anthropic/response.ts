import {randomId} from '../../../core/random-id.js'

import type {ChatCompletion, ChatFinishReason, ChatUsage} from '../chat/types.js'
import type {ContentBlock, Message, MessagesEcho, StopReason, Usage} from './types.js'

/**
 * Chat answers → Anthropic's `message`. Shared with the stream encoder: ids, tool inputs,
 * the stop reason and usage are computed the same way in both, so a streamed answer folds
 * into exactly the non-stream one.
 */

export function newMessageId(): string {
  return `msg_${randomId(18, 'base64url')}`
}

/** Anthropic tool-use ids match `^[a-zA-Z0-9_-]+$` and clients send them back: other characters (some servers answer `functions.Bash:0`) become `_`; a missing id gets a fresh one. */
export function toolUseId(id: string | undefined): string {
  if (!id) return `toolu_${randomId(12, 'base64url')}`
  return id.replaceAll(/[^a-zA-Z0-9_-]/g, '_')
}

/**
 * A tool call's `arguments` → `input`, which must be an object. Arguments that are empty,
 * not JSON, or JSON but not an object (a model's malformed call) become `{}`: the client
 * runs the tool, its input check fails, and the model sees that error and can call again.
 */
export function toolInput(args: string | undefined): Record<string, unknown> {
  if (!args || args.trim() === '') return {}
  try {
    const value: unknown = JSON.parse(args)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {}
  } catch {
    return {}
  }
}

/** Chat usage → Anthropic usage: `input_tokens` excludes the cached part, which is `cache_read_input_tokens`; chat reports no cache writes. */
export function usageToAnthropic(usage: ChatUsage | null | undefined): Usage {
  const prompt = usage?.prompt_tokens ?? 0
  const cached = Math.min(prompt, usage?.prompt_tokens_details?.cached_tokens ?? 0)
  return {
    input_tokens: prompt - cached,
    output_tokens: usage?.completion_tokens ?? 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  }
}

/**
 * Which stop sequence ended the answer, when the upstream says so: chat's `finish_reason`
 * is only `stop`, but vLLM adds the matched string as the choice's `stop_reason` and SGLang
 * as `matched_stop`. Only a string the client asked for counts.
 */
export function matchedStop(choice: object | undefined, stops: readonly string[]): string | null {
  if (!choice || stops.length === 0) return null
  const fields = choice as {stop_reason?: unknown; matched_stop?: unknown}
  for (const value of [fields.stop_reason, fields.matched_stop])
    if (typeof value === 'string' && stops.includes(value)) return value
  return null
}

export type StopFacts = {toolCalls: boolean; refused: boolean; matched: string | null}

/** Chat `finish_reason` → `stop_reason` / `stop_sequence`. */
export function stopReason(
  finish: ChatFinishReason | null | undefined,
  facts: StopFacts,
): {stop_reason: StopReason; stop_sequence: string | null} {
  const reason = (stop_reason: StopReason) => ({stop_reason, stop_sequence: null})
  if (finish === 'length') return reason('max_tokens')
  if (finish === 'content_filter' || facts.refused) return reason('refusal')
  if (facts.toolCalls) return reason('tool_use')
  if (facts.matched !== null) return {stop_reason: 'stop_sequence', stop_sequence: facts.matched}
  return reason('end_turn')
}

/** The client's name of a chat tool name. */
export const clientToolName = (echo: MessagesEcho, name: string): string => echo.toolNames.get(name) ?? name

/**
 * A finished chat completion → Anthropic's message: thinking (when asked), then the text
 * (omitted when empty; an OpenAI `refusal` is text too), then one `tool_use` per call.
 * `model` is the model the client asked for.
 */
export function chatCompletionToMessage(
  chat: ChatCompletion,
  plan: {echo: MessagesEcho},
  options: {id?: string} = {},
): Message {
  const {echo} = plan
  const choice = chat.choices?.find((c) => c.index === 0) ?? chat.choices?.[0]
  const message = choice?.message
  const content: ContentBlock[] = []
  if (echo.thinking && message?.reasoning_content)
    content.push({type: 'thinking', thinking: message.reasoning_content, signature: ''})
  const text = (message?.content ?? '') + (message?.refusal ?? '')
  if (text !== '') content.push({type: 'text', text})
  const calls = message?.tool_calls ?? []
  for (const call of calls)
    content.push({
      type: 'tool_use',
      id: toolUseId(call.id),
      name: clientToolName(echo, call.function?.name ?? ''),
      input: toolInput(call.function?.arguments),
    })
  return {
    id: options.id ?? newMessageId(),
    type: 'message',
    role: 'assistant',
    model: echo.model,
    content,
    ...stopReason(choice?.finish_reason, {
      toolCalls: calls.length > 0,
      refused: Boolean(message?.refusal),
      matched: matchedStop(choice, echo.stopSequences),
    }),
    usage: usageToAnthropic(chat.usage),
  }
}
