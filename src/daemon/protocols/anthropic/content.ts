import type {ChatContentPart, ChatMessage, ChatToolCall} from '../chat/types.js'
import type {ToolNames} from './tools.js'
import {invalid, isObject, requiredString} from './validate.js'

/**
 * Anthropic `system` and `messages` → chat messages. Consecutive turns of one role are one
 * turn (Anthropic merges them too). A user turn's `tool_result` blocks become one `tool`
 * message each, placed before the turn's other blocks: chat wants the answers to an
 * assistant's tool calls right after it. Thinking blocks of earlier answers are dropped (chat
 * has no field for them, and their signatures mean nothing to another model); `cache_control`
 * is dropped everywhere (OpenAI caches prompt prefixes by itself).
 */

type Block = {block: Record<string, unknown>; param: string}

/** Claude Code's first system text, `x-anthropic-billing-header: cc_version=…; cch=…;`, changes with every request: kept, it would defeat the upstream's prompt-prefix cache. */
const BILLING_HEADER = /^\s*x-anthropic-billing-header:/i

/** The texts of a string or a list of text blocks, joined by a blank line. */
function texts(value: unknown, param: string): string {
  if (typeof value === 'string') return value
  if (!Array.isArray(value)) throw invalid(param, 'Input should be a valid string or a list of text blocks')
  return value
    .map((block: unknown, i) => {
      if (!isObject(block) || block.type !== 'text')
        throw invalid(`${param}[${i}]`, "Input should be a text block ({type: 'text', text})")
      return requiredString(block.text, `${param}[${i}].text`)
    })
    .filter((text) => !BILLING_HEADER.test(text))
    .join('\n\n')
}

/** `system` → one leading system message (texts joined), without the billing header; nothing when empty. */
export function systemToChat(value: unknown): ChatMessage | undefined {
  if (value === undefined || value === null) return undefined
  const text =
    typeof value === 'string'
      ? value
          .split('\n')
          .filter((line, i) => i > 0 || !BILLING_HEADER.test(line))
          .join('\n')
      : texts(value, 'system')
  return text === '' ? undefined : {role: 'system', content: text}
}

const textPart = (text: string): ChatContentPart => ({type: 'text', text})

function imagePart(block: Record<string, unknown>, param: string): ChatContentPart {
  const source = block.source
  if (!isObject(source)) throw invalid(`${param}.source`, 'Field required')
  if (source.type === 'base64') {
    const media = requiredString(source.media_type, `${param}.source.media_type`)
    return {
      type: 'image_url',
      image_url: {url: `data:${media};base64,${requiredString(source.data, `${param}.source.data`)}`},
    }
  }

  if (source.type === 'url')
    return {type: 'image_url', image_url: {url: requiredString(source.url, `${param}.source.url`)}}
  throw invalid(
    `${param}.source.type`,
    "this gateway takes images as 'base64' or 'url' sources (files uploaded to Anthropic are not reachable from the chat API)",
  )
}

/**
 * A document block: a base64 PDF becomes a chat `file` part (OpenAI's chat API reads PDFs
 * sent inline as a data URL), plain text and content sources become text and image parts.
 * A PDF by URL or a Files API id cannot be passed on: chat takes only inline data, and a
 * converter does not download.
 */
function documentParts(block: Record<string, unknown>, param: string): ChatContentPart[] {
  const source = block.source
  if (!isObject(source)) throw invalid(`${param}.source`, 'Field required')
  const title = typeof block.title === 'string' && block.title !== '' ? block.title : undefined
  if (source.type === 'base64') {
    if (source.media_type !== 'application/pdf')
      throw invalid(`${param}.source.media_type`, "Input should be 'application/pdf'")
    const data = requiredString(source.data, `${param}.source.data`)
    return [{type: 'file', file: {filename: title ?? 'document.pdf', file_data: `data:application/pdf;base64,${data}`}}]
  }

  if (source.type === 'text') {
    const context = typeof block.context === 'string' && block.context !== '' ? block.context : undefined
    return [
      textPart([title, context, requiredString(source.data, `${param}.source.data`)].filter(Boolean).join('\n\n')),
    ]
  }

  if (source.type === 'content') {
    if (typeof source.content === 'string') return [textPart(source.content)]
    return blocksOf(source.content, `${param}.source.content`).map(({block, param}) => mediaPart(block, param))
  }

  throw invalid(
    `${param}.source.type`,
    "this gateway takes documents as 'base64' PDF, 'text' or 'content' sources: the chat API cannot fetch a URL or a file uploaded to Anthropic",
  )
}

/** A text or image block (what document contents and tool results may hold). */
function mediaPart(block: Record<string, unknown>, param: string): ChatContentPart {
  if (block.type === 'text') return textPart(requiredString(block.text, `${param}.text`))
  if (block.type === 'image') return imagePart(block, param)
  throw invalid(`${param}.type`, "Input should be 'text' or 'image'")
}

function blocksOf(value: unknown, param: string): Block[] {
  if (typeof value === 'string') return [{block: {type: 'text', text: value}, param}]
  if (!Array.isArray(value)) throw invalid(param, 'Input should be a valid string or a list of content blocks')
  return value.map((block: unknown, i) => {
    if (!isObject(block) || typeof block.type !== 'string')
      throw invalid(`${param}[${i}]`, 'Input should be a content block with a `type`')
    return {block, param: `${param}[${i}]`}
  })
}

/**
 * A `tool_result` → a tool message (chat tool messages take text only) and the parts that
 * must follow in a user message (images, PDFs). `is_error` has no chat field: the text is
 * prefixed with `Error: ` so the model still learns that the call failed.
 */
function toolResult(block: Record<string, unknown>, param: string): {message: ChatMessage; media: ChatContentPart[]} {
  const id = requiredString(block.tool_use_id, `${param}.tool_use_id`)
  const content = block.content
  const parts: ChatContentPart[] = []
  if (content !== undefined && content !== null) {
    for (const item of blocksOf(content, `${param}.content`))
      parts.push(
        ...(item.block.type === 'document'
          ? documentParts(item.block, item.param)
          : [mediaPart(item.block, item.param)]),
      )
  }

  const text = parts.flatMap((p) => (p.type === 'text' ? [(p as {text: string}).text] : [])).join('\n\n')
  const media = parts.filter((p) => p.type !== 'text')
  const shown =
    text === '' && media.length > 0
      ? `(the tool returned ${media.length} image or file part(s); they follow in the next message)`
      : text
  const body = block.is_error === true ? (shown === '' ? 'Error' : `Error: ${shown}`) : shown
  const label = textPart(`Content returned by tool call ${id}:`)
  return {message: {role: 'tool', tool_call_id: id, content: body}, media: media.length > 0 ? [label, ...media] : []}
}

function userTurn(blocks: readonly Block[]): ChatMessage[] {
  const tools: ChatMessage[] = []
  const toolMedia: ChatContentPart[] = []
  const parts: ChatContentPart[] = []
  for (const {block, param} of blocks) {
    if (block.type === 'tool_result') {
      const result = toolResult(block, param)
      tools.push(result.message)
      toolMedia.push(...result.media)
    } else if (block.type === 'document') {
      parts.push(...documentParts(block, param))
    } else if (block.type === 'text' || block.type === 'image') {
      parts.push(mediaPart(block, param))
    } else {
      throw invalid(
        `${param}.type`,
        `a user turn may hold 'text', 'image', 'document' and 'tool_result' blocks on this gateway, not '${String(block.type)}'`,
      )
    }
  }

  const content = [...toolMedia, ...parts]
  if (content.length === 0) return tools
  const only = content.length === 1 && content[0]!.type === 'text' ? (content[0] as {text: string}).text : undefined
  return [...tools, {role: 'user', content: only ?? content}]
}

function assistantTurn(blocks: readonly Block[], names: ToolNames): ChatMessage[] {
  const said: string[] = []
  const calls: ChatToolCall[] = []
  for (const {block, param} of blocks) {
    if (block.type === 'text') said.push(requiredString(block.text, `${param}.text`))
    else if (block.type === 'tool_use') {
      const id = requiredString(block.id, `${param}.id`)
      const name = names.toChat(requiredString(block.name, `${param}.name`))
      calls.push({id, type: 'function', function: {name, arguments: JSON.stringify(block.input ?? {})}})
    } else if (block.type !== 'thinking' && block.type !== 'redacted_thinking') {
      throw invalid(
        `${param}.type`,
        `an assistant turn may hold 'text', 'tool_use' and thinking blocks on this gateway, not '${String(block.type)}'`,
      )
    }
  }

  if (said.length === 0 && calls.length === 0) return []
  return [
    {
      role: 'assistant',
      content: said.length > 0 ? said.join('\n\n') : null,
      ...(calls.length > 0 && {tool_calls: calls}),
    },
  ]
}

/** `messages` → chat messages (same-role runs merged first). */
export function messagesToChat(value: unknown, names: ToolNames): ChatMessage[] {
  if (value === undefined || value === null) throw invalid('messages', 'Field required')
  if (!Array.isArray(value) || value.length === 0)
    throw invalid('messages', 'Input should be a non-empty list of messages')
  const turns: Array<{role: string; blocks: Block[]}> = []
  for (const [i, message] of value.entries()) {
    const param = `messages[${i}]`
    if (!isObject(message)) throw invalid(param, 'Input should be an object with role and content')
    const {role} = message
    if (role !== 'user' && role !== 'assistant' && role !== 'system')
      throw invalid(`${param}.role`, "Input should be 'user' or 'assistant'")
    if (message.content === undefined || message.content === null) throw invalid(`${param}.content`, 'Field required')
    // the SDK's SystemMessageParam: a system message in the conversation, text only
    if (role === 'system')
      turns.push({
        role,
        blocks: [{block: {type: 'text', text: texts(message.content, `${param}.content`)}, param: `${param}.content`}],
      })
    else if (turns.at(-1)?.role === role) turns.at(-1)!.blocks.push(...blocksOf(message.content, `${param}.content`))
    else turns.push({role, blocks: blocksOf(message.content, `${param}.content`)})
  }

  return turns.flatMap(({role, blocks}) => {
    if (role === 'user') return userTurn(blocks)
    if (role === 'assistant') return assistantTurn(blocks, names)
    return [{role: 'system', content: (blocks[0]!.block as {text: string}).text}]
  })
}
