import {randomUUID} from 'node:crypto'
import {own} from '../../../core/own.js'

import {contentText} from '../../../core/tokenizer.js'
import type {ChatRequest} from '../chat/types.js'
import type {ConversationRequest} from './types.js'

/**
 * Chat request → `POST /backend-api/conversation` body. Each request is a new conversation
 * carrying the whole history, with `history_and_training_disabled` so it never lands in the
 * account's ChatGPT history.
 */

/**
 * Client model name → web `model` slug. The upstream's `modelMap` comes first; then:
 *
 * | client model                                   | web slug                           |
 * |------------------------------------------------|------------------------------------|
 * | gpt-3.5-turbo…, gpt-4o-mini…                   | gpt-4o-mini                        |
 * | gpt-4o…, chatgpt-4o-latest                     | gpt-4o                             |
 * | gpt-4.1, gpt-4.1-mini, gpt-4.5                 | gpt-4-1, gpt-4-1-mini, gpt-4-5     |
 * | gpt-5, gpt-5.1, gpt-5.2 (-instant, -thinking)  | gpt-5, gpt-5-1, gpt-5-2 (…)        |
 * | a dated snapshot (…-2025-04-14)                | the slug of the name without date  |
 * | …-chat-latest (gpt-5.2-chat-latest)            | the slug of the name without it    |
 * | auto, o3, o4-mini, o4-mini-high, anything else | itself, lower-cased, dots → dashes |
 *
 * The web app names its models with dashes where the API uses dots (`gpt-4-1` for
 * `gpt-4.1`); `auto` lets the web pick. A name that already is a slug stays as it is.
 */
export function webModelSlug(model: string, modelMap: Record<string, string> | undefined): string {
  const mapped = own(modelMap, model)
  if (mapped !== undefined) return mapped
  const m = model
    .trim()
    .toLowerCase()
    .replace(/-\d{4}-\d{2}-\d{2}$/, '')
    .replace(/-chat-latest$/, '')
  if (m.startsWith('gpt-3.5') || m.startsWith('gpt-4o-mini')) return 'gpt-4o-mini'
  if (m.startsWith('gpt-4o') || m === 'chatgpt-4o-latest') return 'gpt-4o'
  return m.replace(/(\d)\.(\d)/g, '$1-$2')
}

/**
 * Client model names a chatgpt-web upstream answers to when it lists none itself: the models
 * of the web app in 2026, by the names API clients use (each maps to its slug above).
 */
export const WEB_MODELS = [
  'auto',
  'gpt-5.2',
  'gpt-5.2-instant',
  'gpt-5.2-thinking',
  'gpt-5.1',
  'gpt-5.1-instant',
  'gpt-5.1-thinking',
  'gpt-5',
  'gpt-5-instant',
  'gpt-5-thinking',
  'gpt-4.1',
  'gpt-4.1-mini',
  'gpt-4o',
  'gpt-4o-mini',
  'o3',
  'o4-mini',
  'o4-mini-high',
]

/**
 * Why a chat request cannot go to a chatgpt-web upstream (the web backend has no such
 * thing), as [param, message] — or undefined when it can.
 */
export function webLimitation(chat: Record<string, unknown>): [string, string] | undefined {
  if (typeof chat.n === 'number' && chat.n > 1)
    return [
      'n',
      '`n` > 1 is not supported by chatgpt-web upstreams: the web answers once per conversation. Send n separate requests.',
    ]
  if (chat.logprobs === true) return ['logprobs', '`logprobs` is not available from chatgpt-web upstreams.']
  if (
    (Array.isArray(chat.tools) && chat.tools.length > 0) ||
    (Array.isArray(chat.functions) && chat.functions.length > 0)
  )
    return ['tools', 'Function and tool calling is not available on chatgpt-web upstreams.']
  const messages = Array.isArray(chat.messages) ? (chat.messages as Array<{role?: unknown; content?: unknown}>) : []
  if (messages.some((m) => m.role === 'tool' || m.role === 'function'))
    return ['messages', 'Tool results cannot be sent to chatgpt-web upstreams.']
  const nonText = messages.some(
    (m) => Array.isArray(m.content) && m.content.some((p: {type?: unknown}) => p?.type !== 'text'),
  )
  if (nonText)
    return ['messages', 'Only text content can be sent to chatgpt-web upstreams (no images, audio or files).']
  return undefined
}

export function chatRequestToConversation(
  chat: ChatRequest,
  slug: string,
  uuid: () => string = randomUUID,
): ConversationRequest {
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
