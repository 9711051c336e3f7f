import {createHash} from 'node:crypto'

import type {ChatRequest} from '../chat/types.js'
import {messagesToChat, systemToChat} from './content.js'
import {ToolNames, toolChoiceToChat, toolsToChat} from './tools.js'
import type {MessagesPlan} from './types.js'
import {invalid, isObject, optionalNumber, requiredString} from './validate.js'

/**
 * Anthropic `POST /v1/messages` body → the pivot chat request. What has a chat equivalent
 * is converted; `top_k`, `cache_control`, `context_management`, `container`,
 * `service_tier`, `speed`, `inference_geo` and other fields chat has no counterpart for are
 * accepted and dropped (the client is not refused for hints); what would change the answer
 * silently if dropped (server tools, more stop sequences than chat takes, a PDF by URL) is
 * refused with a 400 naming the field.
 */

/** OpenAI's chat API takes at most 4 stop sequences. */
const MAX_STOP = 4

/** Anthropic `output_config.effort` values; OpenAI's `reasoning_effort` has the same five. */
const EFFORTS = new Set(['low', 'medium', 'high', 'xhigh', 'max'])

function maxTokens(body: Record<string, unknown>): number {
  const value = body.max_tokens
  if (value === undefined || value === null) throw invalid('max_tokens', 'Field required')
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw invalid('max_tokens', 'Input should be a valid integer')
  // Anthropic takes 0 to warm its prompt cache without an answer; chat has no such call
  if (value < 1) throw invalid('max_tokens', 'Input should be greater than or equal to 1')
  return value
}

function stopSequences(value: unknown): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string'))
    throw invalid('stop_sequences', 'Input should be a valid list of strings')
  if (value.length > MAX_STOP) {
    throw invalid(
      'stop_sequences',
      `at most ${MAX_STOP} stop sequences on this gateway: the model is served through the chat API, which takes no more (got ${value.length})`,
    )
  }

  return value.filter((s) => s !== '')
}

/** Budget buckets: below 4096 → low, below 16384 → medium, else high (Claude Code's "think" asks 4000, "think hard" 10000, "ultrathink" 31999). */
export function budgetToEffort(budget: number): 'low' | 'medium' | 'high' {
  if (budget < 4096) return 'low'
  if (budget < 16_384) return 'medium'
  return 'high'
}

/**
 * `thinking` + `output_config.effort` → `reasoning_effort`. Disabled → `none`; an explicit
 * effort wins over a budget; `enabled` buckets its budget; `adaptive` alone ("the model
 * decides") leaves the upstream's default. `asked` tells whether reasoning text should come
 * back as thinking blocks (not when the client asked `display: 'omitted'`).
 */
function reasoning(
  body: Record<string, unknown>,
  config: Record<string, unknown> | undefined,
): {effort?: string; asked: boolean} {
  const thinking = body.thinking
  const effort = config?.effort
  if (effort !== undefined && effort !== null && (typeof effort !== 'string' || !EFFORTS.has(effort))) {
    throw invalid('output_config.effort', "Input should be 'low', 'medium', 'high', 'xhigh' or 'max'")
  }

  if (thinking === undefined || thinking === null) return {effort: effort ?? undefined, asked: false}
  if (!isObject(thinking)) throw invalid('thinking', 'Input should be an object')
  const asked = thinking.display !== 'omitted'
  switch (thinking.type) {
    case 'disabled': {
      return {effort: 'none', asked: false}
    }

    case 'enabled': {
      const budget = thinking.budget_tokens
      if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 0)
        throw invalid('thinking.budget_tokens', 'Input should be a valid integer')
      return {effort: effort ?? budgetToEffort(budget), asked}
    }

    case 'adaptive':
    case 'between_tools': {
      return {effort: effort ?? undefined, asked}
    }

    default: {
      throw invalid('thinking.type', "Input should be 'enabled', 'disabled' or 'adaptive'")
    }
  }
}

/** `output_config.format` (or the older beta `output_format`) → `response_format` json_schema; best effort, not constrained decoding (OpenAI's `strict` needs a stricter schema dialect). */
function responseFormat(value: unknown, param: string): Record<string, unknown> {
  if (value === undefined || value === null) return {}
  if (!isObject(value) || value.type !== 'json_schema') throw invalid(`${param}.type`, "Input should be 'json_schema'")
  if (!isObject(value.schema)) throw invalid(`${param}.schema`, 'Field required (a JSON schema object)')
  return {response_format: {type: 'json_schema', json_schema: {name: 'output', schema: value.schema}}}
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/**
 * `metadata.user_id` → `safety_identifier` (the user part hashed: 64 hex characters, OpenAI's
 * limit, and no raw id leaves) and `prompt_cache_key` (the session, so one conversation's
 * requests land on the same cache). Claude Code sends `user_<hash>_account_<uuid>_session_<uuid>`,
 * and since 2.1.78 a JSON string `{"device_id", "account_uuid", "session_id"}`.
 */
export function userIdToChat(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {}
  if (!isObject(value)) throw invalid('metadata', 'Input should be an object')
  const id = value.user_id
  if (id === undefined || id === null || id === '') return {}
  if (typeof id !== 'string') throw invalid('metadata.user_id', 'Input should be a valid string')
  let user = id
  let session: string | undefined
  const legacy = /^(.*)_session_([^_]+)$/.exec(id)
  if (legacy) [, user, session] = legacy as unknown as [string, string, string]
  else if (id.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(id)
      if (isObject(parsed) && typeof parsed.session_id === 'string' && parsed.session_id !== '') {
        session = parsed.session_id
        user = JSON.stringify([parsed.device_id ?? null, parsed.account_uuid ?? null])
      }
    } catch {
      // not JSON after all: the whole string identifies the user
    }
  }

  return {
    safety_identifier: sha256(user),
    ...(session && {prompt_cache_key: session.length <= 64 ? session : sha256(session)}),
  }
}

function decode(body: unknown, count: boolean): MessagesPlan {
  if (!isObject(body)) throw invalid('body', 'the request body must be a JSON object')
  const model = requiredString(body.model, 'model')
  if (model === '') throw invalid('model', 'Field required')
  const max = count ? undefined : maxTokens(body)
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean')
    throw invalid('stream', 'Input should be a valid boolean')
  const config = body.output_config ?? undefined
  if (config !== undefined && !isObject(config)) throw invalid('output_config', 'Input should be an object')
  const names = new ToolNames()
  const tools = toolsToChat(body.tools, names)
  const system = systemToChat(body.system)
  const messages = [...(system ? [system] : []), ...messagesToChat(body.messages, names)]
  const stop = stopSequences(body.stop_sequences)
  const temperature = optionalNumber(body, 'temperature')
  const topP = optionalNumber(body, 'top_p')
  optionalNumber(body, 'top_k') // validated, then dropped: chat has no top_k
  const thinking = reasoning(body, config)
  const chat: ChatRequest = {
    model,
    messages,
    ...(max !== undefined && {max_completion_tokens: max}),
    ...(stop.length > 0 && {stop}),
    ...(temperature !== undefined && {temperature}),
    ...(topP !== undefined && {top_p: topP}),
    ...(tools && tools.length > 0 && {tools}),
    ...toolChoiceToChat(body.tool_choice, tools, names),
    ...(thinking.effort !== undefined && {reasoning_effort: thinking.effort}),
    ...responseFormat(config?.format ?? body.output_format, config?.format ? 'output_config.format' : 'output_format'),
    ...userIdToChat(body.metadata),
  }
  return {
    model,
    stream: body.stream === true,
    chat,
    echo: {model, toolNames: names.map, stopSequences: stop, thinking: thinking.asked},
  }
}

/**
 * A `/v1/messages` body → the plan. `max_tokens` becomes `max_completion_tokens`: OpenAI's
 * current name, the only one its reasoning models take, and like Anthropic's it counts
 * reasoning tokens too.
 */
export function decodeMessagesRequest(body: unknown): MessagesPlan {
  return decode(body, false)
}

/** A `/v1/messages/count_tokens` body (the create body without `max_tokens`) → the same plan, to count its chat request. */
export function decodeCountTokensRequest(body: unknown): MessagesPlan {
  return decode(body, true)
}
