import type {ChatMessage, ChatRequest} from '../chat/types.js'
import {InvalidRequestError} from '../errors.js'
import {isObject} from './input.js'

/**
 * A chat request (or any pivot request) → a Responses request, for upstreams that speak only
 * Responses. Leading system/developer messages become `instructions`; the rest become input
 * items (assistant `tool_calls` → `function_call` items, `tool` messages →
 * `function_call_output`). Chat parameters with no Responses counterpart that change the
 * answer (`n`, `stop`, penalties, `logit_bias`, audio…) are refused naming them; `seed`,
 * `prediction` and `stream_options` only steer how the answer is made or sent and are left out.
 * `store` is off unless the chat request turned it on, because a chat client never expects
 * the upstream to keep its conversation.
 */

type Json = Record<string, unknown>

function textOf(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content.map((p) => (isObject(p) && p.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('')
}

function userPart(part: unknown, at: string): Json {
  if (isObject(part) && part.type === 'text' && typeof part.text === 'string')
    return {type: 'input_text', text: part.text}
  if (
    isObject(part) &&
    part.type === 'image_url' &&
    isObject(part.image_url) &&
    typeof part.image_url.url === 'string'
  ) {
    return {
      type: 'input_image',
      image_url: part.image_url.url,
      detail: typeof part.image_url.detail === 'string' ? part.image_url.detail : 'auto',
    }
  }

  if (isObject(part) && part.type === 'file' && isObject(part.file)) {
    const {file_id: id, file_data: data, filename} = part.file
    return {
      type: 'input_file',
      ...(typeof id === 'string' && {file_id: id}),
      ...(typeof data === 'string' && {file_data: data}),
      ...(typeof filename === 'string' && {filename}),
    }
  }

  throw new InvalidRequestError(
    `\`${at}\`: this content part has no Responses counterpart (text, images and files only).`,
    at,
  )
}

function assistantItems(message: ChatMessage, at: string): Json[] {
  const items: Json[] = []
  // an earlier refusal is kept as what the assistant said, so the context stays whole
  const text = textOf(message.content) || (typeof message.refusal === 'string' ? message.refusal : '')
  if (text !== '') items.push({type: 'message', role: 'assistant', content: text})
  for (const [k, call] of (message.tool_calls ?? []).entries()) {
    if (call?.type !== 'function' || !isObject(call.function))
      throw new InvalidRequestError(`\`${at}.tool_calls[${k}]\` must be a function call.`, `${at}.tool_calls[${k}]`)
    items.push({type: 'function_call', call_id: call.id, name: call.function.name, arguments: call.function.arguments})
  }

  return items
}

function messageItems(message: ChatMessage, at: string): Json[] {
  switch (message.role) {
    case 'system':
    case 'developer':
      return [{type: 'message', role: message.role, content: textOf(message.content)}]
    case 'user':
      if (typeof message.content === 'string') return [{type: 'message', role: 'user', content: message.content}]
      if (!Array.isArray(message.content))
        throw new InvalidRequestError(`\`${at}.content\` must be a string or a list of parts.`, `${at}.content`)
      return [
        {type: 'message', role: 'user', content: message.content.map((p, j) => userPart(p, `${at}.content[${j}]`))},
      ]
    case 'assistant':
      return assistantItems(message, at)
    case 'tool':
      return [{type: 'function_call_output', call_id: message.tool_call_id, output: textOf(message.content)}]
    default:
      throw new InvalidRequestError(
        `\`${at}.role\`: messages of role ${JSON.stringify(message.role)} have no Responses counterpart.`,
        `${at}.role`,
      )
  }
}

function messagesToInput(messages: readonly ChatMessage[]): {instructions: string | undefined; input: Json[]} {
  if (!Array.isArray(messages)) throw new InvalidRequestError('`messages` must be a list of messages.', 'messages')
  let lead = 0
  while (lead < messages.length && (messages[lead].role === 'system' || messages[lead].role === 'developer')) lead++
  const instructions =
    lead === 0
      ? undefined
      : messages
          .slice(0, lead)
          .map((m) => textOf(m.content))
          .join('\n\n')
  const input = messages.slice(lead).flatMap((m, i) => messageItems(m, `messages[${lead + i}]`))
  return {instructions, input}
}

function tools(value: unknown): Json[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw new InvalidRequestError('`tools` must be a list of tools.', 'tools')
  return value.map((tool, i) => {
    if (!isObject(tool) || tool.type !== 'function' || !isObject(tool.function))
      throw new InvalidRequestError(
        `\`tools[${i}].type\`: only function tools can be sent to a Responses upstream.`,
        `tools[${i}].type`,
      )
    const {name, description, parameters, strict} = tool.function
    // Responses makes function tools strict unless told otherwise; chat's default is not strict
    return {
      type: 'function',
      name,
      ...(typeof description === 'string' && {description}),
      parameters: isObject(parameters) ? parameters : {type: 'object', properties: {}},
      strict: strict === true,
    }
  })
}

function toolChoice(value: unknown): unknown {
  if (value === undefined || value === null || value === 'none' || value === 'auto' || value === 'required')
    return value ?? undefined
  if (isObject(value) && value.type === 'function' && isObject(value.function))
    return {type: 'function', name: value.function.name}
  if (
    isObject(value) &&
    value.type === 'allowed_tools' &&
    isObject(value.allowed_tools) &&
    Array.isArray(value.allowed_tools.tools)
  ) {
    const named = value.allowed_tools.tools.map((t) => ({
      type: 'function',
      name: isObject(t) && isObject(t.function) ? t.function.name : undefined,
    }))
    return {type: 'allowed_tools', mode: value.allowed_tools.mode, tools: named}
  }

  throw new InvalidRequestError(
    '`tool_choice` must be "none", "auto", "required", a function, or allowed_tools.',
    'tool_choice',
  )
}

/** Parameters that change the answer and that Responses cannot take. */
function refuseUnmappable(chat: ChatRequest): void {
  const refuse = (param: string, why: string) => {
    throw new InvalidRequestError(
      `\`${param}\` is not supported by this upstream (it speaks only the Responses API, which ${why}).`,
      param,
    )
  }

  if (typeof chat.n === 'number' && chat.n > 1) refuse('n', 'makes one answer per request')
  if ((typeof chat.stop === 'string' && chat.stop !== '') || (Array.isArray(chat.stop) && chat.stop.length > 0))
    refuse('stop', 'has no stop sequences')
  for (const name of ['frequency_penalty', 'presence_penalty'])
    if (typeof chat[name] === 'number' && chat[name] !== 0) refuse(name, 'has no penalties')
  if (isObject(chat.logit_bias) && Object.keys(chat.logit_bias).length > 0) refuse('logit_bias', 'has no logit bias')
  for (const name of ['functions', 'function_call', 'audio', 'web_search_options'])
    if (chat[name] !== undefined && chat[name] !== null) refuse(name, 'has no such parameter')
  if (Array.isArray(chat.modalities) && chat.modalities.includes('audio')) refuse('modalities', 'answers in text only')
}

function textConfig(chat: ChatRequest): Json | undefined {
  const format = chat.response_format
  let mapped: Json | undefined
  if (isObject(format) && format.type === 'json_schema' && isObject(format.json_schema)) {
    const {name, schema, strict, description} = format.json_schema
    mapped = {
      type: 'json_schema',
      name,
      schema: isObject(schema) ? schema : {},
      ...(typeof strict === 'boolean' && {strict}),
      ...(typeof description === 'string' && {description}),
    }
  } else if (isObject(format) && (format.type === 'json_object' || format.type === 'text')) mapped = {type: format.type}
  const verbosity = typeof chat.verbosity === 'string' ? chat.verbosity : undefined
  if (!mapped && !verbosity) return undefined
  return {...(mapped && {format: mapped}), ...(verbosity && {verbosity})}
}

const COPIED = [
  'temperature',
  'top_p',
  'user',
  'safety_identifier',
  'prompt_cache_key',
  'service_tier',
  'metadata',
  'parallel_tool_calls',
]

export function chatRequestToResponses(chat: ChatRequest): Record<string, unknown> {
  refuseUnmappable(chat)
  const {instructions, input} = messagesToInput(chat.messages)
  const mappedTools = tools(chat.tools)
  const choice = toolChoice(chat.tool_choice)
  const maxTokens = chat.max_completion_tokens ?? chat.max_tokens
  const text = textConfig(chat)
  const copied = Object.fromEntries(
    COPIED.flatMap((name) => (chat[name] === undefined || chat[name] === null ? [] : [[name, chat[name]]])),
  )
  const topLogprobs =
    chat.logprobs === true ? (typeof chat.top_logprobs === 'number' ? chat.top_logprobs : 0) : undefined
  return {
    model: chat.model,
    ...(instructions !== undefined && {instructions}),
    input,
    ...(mappedTools && {tools: mappedTools}),
    ...(choice !== undefined && {tool_choice: choice}),
    ...(typeof maxTokens === 'number' && {max_output_tokens: maxTokens}),
    ...(text && {text}),
    ...(typeof chat.reasoning_effort === 'string' && {reasoning: {effort: chat.reasoning_effort}}),
    ...copied,
    // Responses returns log probabilities only when asked to include them
    ...(topLogprobs !== undefined && {top_logprobs: topLogprobs, include: ['message.output_text.logprobs']}),
    store: chat.store === true,
    ...(chat.stream === true && {stream: true}),
  }
}
