import {randomUUID} from 'node:crypto'

import {contentText} from '../../../core/tokenizer.js'
import type {ChatRequest} from '../chat/types.js'
import type {ConversationRequest} from './types.js'

/**
 * Chat request → `POST /backend-api/conversation` body (protocols.md §5.2). Each request
 * is a new conversation carrying the whole history, with `history_and_training_disabled`
 * so it never lands in the account's ChatGPT history.
 */

/** Default slugs for the names clients use; the upstream's `modelMap` comes first. */
export function webModelSlug(model: string, modelMap: Record<string, string> | undefined): string {
  if (modelMap?.[model]) return modelMap[model]
  const m = model.toLowerCase()
  if (m.startsWith('gpt-3.5') || m.startsWith('gpt-4o-mini')) return 'gpt-4o-mini'
  if (m.startsWith('gpt-4o')) return 'gpt-4o'
  return model
}

/** Client model names a chatgpt-web upstream answers to when it lists none itself. */
export const WEB_MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-3.5-turbo', 'gpt-4']

/**
 * Why a chat request cannot go to a chatgpt-web upstream (the web backend has no such
 * thing), as [param, message] — or undefined when it can.
 */
export function webLimitation(chat: Record<string, unknown>): [string, string] | undefined {
  if (typeof chat.n === 'number' && chat.n > 1) return ['n', '`n` > 1 is not supported by chatgpt-web upstreams: the web answers once per conversation. Send n separate requests.']
  if (chat.logprobs === true) return ['logprobs', '`logprobs` is not available from chatgpt-web upstreams.']
  if ((Array.isArray(chat.tools) && chat.tools.length > 0) || (Array.isArray(chat.functions) && chat.functions.length > 0)) return ['tools', 'Function and tool calling is not available on chatgpt-web upstreams.']
  const messages = Array.isArray(chat.messages) ? (chat.messages as Array<{role?: unknown; content?: unknown}>) : []
  if (messages.some((m) => m.role === 'tool' || m.role === 'function')) return ['messages', 'Tool results cannot be sent to chatgpt-web upstreams.']
  const nonText = messages.some((m) => Array.isArray(m.content) && m.content.some((p: {type?: unknown}) => p?.type !== 'text'))
  if (nonText) return ['messages', 'Only text content can be sent to chatgpt-web upstreams (no images, audio or files).']
  return undefined
}

export function chatRequestToConversation(chat: ChatRequest, slug: string, uuid: () => string = randomUUID): ConversationRequest {
  return {
    action: 'next',
    messages: chat.messages.map((m) => ({
      id: uuid(),
      author: {role: m.role === 'developer' ? 'system' : m.role},
      content: {content_type: 'text', parts: [contentText(m.content)]},
      metadata: {},
    })),
    parent_message_id: uuid(),
    model: slug,
    timezone_offset_min: 0,
    history_and_training_disabled: true,
    conversation_mode: {kind: 'primary_assistant'},
    force_paragen: false,
    force_rate_limit: false,
    suggestions: [],
    websocket_request_id: uuid(),
    force_use_sse: true,
  }
}
