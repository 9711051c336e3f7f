import {InvalidRequestError} from '../errors.js'
import type {IdMaker, InputItem, InputPart, MessageItem, MessageRole, OutputPart, ResponsesHistory} from './types.js'

/**
 * Responses input (a string, or a list of items) → the items the daemon keeps: every item
 * validated, given an id when it has none, message content always a list of parts,
 * `item_reference`s replaced by the stored item. Everything a chat upstream cannot take is
 * refused here, naming the client's own index (`input[3].content[0]`).
 */

type Json = Record<string, unknown>

export const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const ROLES: readonly MessageRole[] = ['user', 'assistant', 'system', 'developer']

function requireString(item: Json, field: string, at: string): string {
  const value = item[field]
  if (typeof value !== 'string') throw new InvalidRequestError(`\`${at}.${field}\` must be a string.`, `${at}.${field}`)
  return value
}

const text = (value: string): OutputPart => ({type: 'output_text', text: value, annotations: [], logprobs: []})

function imagePart(part: Json, at: string): InputPart {
  if (typeof part.image_url !== 'string' || part.image_url === '') {
    // a file_id points into OpenAI's file store, which a chat upstream cannot read
    throw new InvalidRequestError(
      `\`${at}\`: an image given by \`file_id\` cannot be served through a chat upstream; send it as \`image_url\` (a URL or a data: URL).`,
      at,
    )
  }

  return {
    type: 'input_image',
    image_url: part.image_url,
    detail: typeof part.detail === 'string' ? part.detail : 'auto',
  }
}

function contentPart(part: unknown, role: MessageRole, at: string): InputPart | OutputPart {
  if (!isObject(part)) throw new InvalidRequestError(`\`${at}\` must be an object.`, at)
  const type = part.type
  if (type === 'input_text' || type === 'output_text') {
    const value = requireString(part, 'text', at)
    return role === 'assistant' ? text(value) : {type: 'input_text', text: value}
  }

  if (type === 'refusal' && role === 'assistant') return {type: 'refusal', refusal: requireString(part, 'refusal', at)}
  if (type === 'input_image' && role === 'user') return imagePart(part, at)
  if (type === 'input_file')
    throw new InvalidRequestError(`\`${at}\`: files (\`input_file\`) cannot be served through a chat upstream.`, at)
  throw new InvalidRequestError(
    `\`${at}.type\`: a ${role} message cannot hold a part of type ${JSON.stringify(type)}.`,
    `${at}.type`,
  )
}

function message(item: Json, at: string, newId: IdMaker): MessageItem {
  const role = item.role as MessageRole
  if (!ROLES.includes(role))
    throw new InvalidRequestError(`\`${at}.role\` must be one of ${ROLES.join(', ')}.`, `${at}.role`)
  const content = item.content
  let parts: Array<InputPart | OutputPart>
  if (typeof content === 'string') parts = [role === 'assistant' ? text(content) : {type: 'input_text', text: content}]
  else if (Array.isArray(content)) parts = content.map((part, j) => contentPart(part, role, `${at}.content[${j}]`))
  else throw new InvalidRequestError(`\`${at}.content\` must be a string or a list of content parts.`, `${at}.content`)
  return {
    type: 'message',
    id: typeof item.id === 'string' ? item.id : newId('msg'),
    role,
    status: 'completed',
    content: parts,
  }
}

/** A tool's output: a string, or parts of which a chat tool message can only carry the text. */
function toolOutput(item: Json, at: string): string | InputPart[] {
  const output = item.output
  if (typeof output === 'string') return output
  if (!Array.isArray(output))
    throw new InvalidRequestError(`\`${at}.output\` must be a string or a list of content parts.`, `${at}.output`)
  return output.map((part, j) => {
    if (isObject(part) && part.type === 'input_text' && typeof part.text === 'string')
      return {type: 'input_text', text: part.text}
    throw new InvalidRequestError(
      `\`${at}.output[${j}]\`: a chat upstream takes only text (\`input_text\`) as a tool's output.`,
      `${at}.output[${j}]`,
    )
  })
}

const idOf = (item: Json, prefix: string, newId: IdMaker) =>
  typeof item.id === 'string' && item.id !== '' ? item.id : newId(prefix)

function summaryOf(summary: unknown): Array<{type: 'summary_text'; text: string}> {
  if (!Array.isArray(summary)) return []
  return summary.flatMap((s) =>
    isObject(s) && typeof s.text === 'string' ? [{type: 'summary_text' as const, text: s.text}] : [],
  )
}

function reference(item: Json, at: string, history: ResponsesHistory | undefined): InputItem {
  const id = requireString(item, 'id', at)
  const found = history?.item(id)
  if (!found)
    throw new InvalidRequestError(`\`${at}.id\`: no stored item with id '${id}'.`, `${at}.id`, 'item_not_found')
  return found
}

/** One client item → the item kept; `undefined` type with a role is a message, without one a reference. */
function inputItem(item: unknown, at: string, history: ResponsesHistory | undefined, newId: IdMaker): InputItem {
  if (!isObject(item)) throw new InvalidRequestError(`\`${at}\` must be an object.`, at)
  const type = item.type ?? (item.role === undefined ? 'item_reference' : 'message')
  switch (type) {
    case 'message':
      return message(item, at, newId)
    case 'function_call':
      return {
        type: 'function_call',
        id: idOf(item, 'fc', newId),
        call_id: requireString(item, 'call_id', at),
        name: requireString(item, 'name', at),
        arguments: requireString(item, 'arguments', at),
        status: 'completed',
      }
    case 'function_call_output':
      return {
        type: 'function_call_output',
        id: idOf(item, 'fco', newId),
        call_id: requireString(item, 'call_id', at),
        output: toolOutput(item, at),
      }
    case 'custom_tool_call':
      return {
        type: 'custom_tool_call',
        id: idOf(item, 'ctc', newId),
        call_id: requireString(item, 'call_id', at),
        name: requireString(item, 'name', at),
        input: requireString(item, 'input', at),
      }
    case 'custom_tool_call_output':
      return {
        type: 'custom_tool_call_output',
        id: idOf(item, 'ctco', newId),
        call_id: requireString(item, 'call_id', at),
        output: toolOutput(item, at),
      }
    case 'reasoning':
      return {
        type: 'reasoning',
        id: idOf(item, 'rs', newId),
        summary: summaryOf(item.summary),
        ...(typeof item.encrypted_content === 'string' && {encrypted_content: item.encrypted_content}),
      }
    case 'item_reference':
      return reference(item, at, history)
    default:
      throw new InvalidRequestError(
        `\`${at}.type\`: items of type ${JSON.stringify(type)} cannot be served through a chat upstream.`,
        `${at}.type`,
      )
  }
}

/** The request's `input` → the items kept for it (before the earlier turns of `previous_response_id`). */
export function resolveInput(input: unknown, history: ResponsesHistory | undefined, newId: IdMaker): InputItem[] {
  if (input === undefined || input === null) return []
  if (typeof input === 'string')
    return [
      {
        type: 'message',
        id: newId('msg'),
        role: 'user',
        status: 'completed',
        content: [{type: 'input_text', text: input}],
      },
    ]
  if (!Array.isArray(input))
    throw new InvalidRequestError('`input` must be a string or a list of input items.', 'input')
  return input.map((item, i) => inputItem(item, `input[${i}]`, history, newId))
}
