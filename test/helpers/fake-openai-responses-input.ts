import {randomBytes} from 'node:crypto'

import {countWords, invalid, isRecord, type Json, wrongType} from './fake-openai-shared.js'

/**
 * The input side of the fake Responses API: request items in, items as OpenAI lists them out
 * (every item with an `id` and a `status`, message text as content parts), the way
 * `GET /v1/responses/{id}/input_items` returns them.
 */

/** An input or output item as OpenAI stores it. */
export type Item = Json

const ROLES = ['user', 'assistant', 'system', 'developer']
const PART_TYPES = ['input_text', 'output_text', 'refusal', 'input_image', 'input_file', 'input_audio']
const ITEM_TYPES = ['message', 'function_call', 'function_call_output', 'reasoning', 'item_reference']

/** A fresh id like OpenAI's: the prefix, `_`, 48 hex digits. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`
}

/** The content part of an assistant's text, as output items carry it. */
export function outputText(text: string): Json {
  return {type: 'output_text', annotations: [], logprobs: [], text}
}

function stringField(raw: Json, at: string, name: string): string {
  const value = raw[name]
  if (value === undefined || value === null)
    throw invalid(`${at}.${name}`, `Missing required parameter: '${at}.${name}'.`, 'missing_required_parameter')
  if (typeof value !== 'string') throw wrongType(`${at}.${name}`, 'a string', value)
  return value
}

function part(raw: unknown, at: string): Json {
  if (!isRecord(raw)) throw wrongType(at, 'an object', raw)
  if (typeof raw.type !== 'string' || !PART_TYPES.includes(raw.type)) {
    throw invalid(
      `${at}.type`,
      `Invalid value: '${String(raw.type)}'. Supported values are: ${PART_TYPES.map((t) => `'${t}'`).join(', ')}.`,
      'invalid_value',
    )
  }
  if (raw.type === 'input_text' || raw.type === 'output_text') {
    const text = stringField(raw, at, 'text')
    return raw.type === 'output_text' ? {...outputText(text), ...raw} : {type: 'input_text', text}
  }
  return raw
}

function message(raw: Json, at: string): Item {
  const {role, content} = raw
  if (typeof role !== 'string' || !ROLES.includes(role)) {
    throw invalid(
      `${at}.role`,
      `Invalid value: '${String(role)}'. Supported values are: 'user', 'assistant', 'system', and 'developer'.`,
      'invalid_value',
    )
  }
  let parts: Json[]
  if (typeof content === 'string')
    parts = [role === 'assistant' ? outputText(content) : {type: 'input_text', text: content}]
  else if (Array.isArray(content)) parts = content.map((p, j) => part(p, `${at}.content[${j}]`))
  else throw wrongType(`${at}.content`, 'a string or an array of content parts', content)
  return {
    id: typeof raw.id === 'string' ? raw.id : newId('msg'),
    type: 'message',
    role,
    content: parts,
    status: 'completed',
  }
}

function item(raw: unknown, at: string, lookup: (id: string) => Item | undefined): Item {
  if (!isRecord(raw)) throw wrongType(at, 'an object', raw)
  const type = raw.type ?? (raw.role === undefined ? undefined : 'message')
  if (typeof type !== 'string' || !ITEM_TYPES.includes(type)) {
    throw invalid(
      `${at}.type`,
      `Invalid value: '${String(type)}'. Supported values are: ${ITEM_TYPES.map((t) => `'${t}'`).join(', ')}.`,
      'invalid_value',
    )
  }
  const id = typeof raw.id === 'string' ? raw.id : undefined
  switch (type) {
    case 'message':
      return message(raw, at)
    case 'function_call':
      return {
        id: id ?? newId('fc'),
        type,
        status: 'completed',
        arguments: stringField(raw, at, 'arguments'),
        call_id: stringField(raw, at, 'call_id'),
        name: stringField(raw, at, 'name'),
      }
    case 'function_call_output': {
      const output = raw.output
      if (typeof output !== 'string' && !Array.isArray(output))
        throw wrongType(`${at}.output`, 'a string or an array', output)
      return {id: id ?? newId('fco'), type, call_id: stringField(raw, at, 'call_id'), output, status: 'completed'}
    }
    case 'item_reference': {
      const found = lookup(stringField(raw, at, 'id'))
      if (!found) throw invalid('input', `Item with id '${String(raw.id)}' not found.`)
      return found
    }
    default:
      return {...raw, id: id ?? newId('rs')}
  }
}

/** The request's `input` (a string = one user message) as stored items; `lookup` resolves `item_reference`s. */
export function readInput(input: unknown, lookup: (id: string) => Item | undefined): Item[] {
  if (input === undefined || input === null) return []
  if (typeof input === 'string') return [message({role: 'user', content: input}, 'input')]
  if (!Array.isArray(input)) throw wrongType('input', 'a string or an array of input items', input)
  return input.map((raw, i) => item(raw, `input[${i}]`, lookup))
}

/** Each tool output must answer a call made earlier in the conversation, as OpenAI checks. */
export function checkToolOutputs(items: Item[]): void {
  const calls = new Set<unknown>()
  for (const it of items) {
    if (it.type === 'function_call') calls.add(it.call_id)
    if (it.type === 'function_call_output' && !calls.has(it.call_id)) {
      throw invalid('input', `No tool call found for function call output with call_id ${String(it.call_id)}.`)
    }
  }
}

function partsText(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content.flatMap((p) => (isRecord(p) && typeof p.text === 'string' ? [p.text] : [])).join(' ')
}

/** The text of an item the fake counts tokens on (words): message text, call name + arguments, tool output. */
export function itemText(it: Item): string {
  if (it.type === 'message') return partsText(it.content)
  if (it.type === 'function_call') return `${String(it.name)} ${String(it.arguments)}`
  if (it.type === 'function_call_output') return partsText(it.output)
  return ''
}

export function itemTokens(items: Item[]): number {
  return items.reduce((sum, it) => sum + countWords(itemText(it)), 0)
}

/**
 * One line per item, for exact assertions on what the model saw: `user: <text>`,
 * `assistant: <text>`, `function_call NAME <arguments>`, `function_call_output <call_id>: <output>`,
 * or the item type.
 */
export function transcript(items: Item[]): string[] {
  return items.map((it) => {
    if (it.type === 'message') return `${String(it.role)}: ${partsText(it.content)}`
    if (it.type === 'function_call') return `function_call ${String(it.name)} ${String(it.arguments)}`
    if (it.type === 'function_call_output') return `function_call_output ${String(it.call_id)}: ${partsText(it.output)}`
    return String(it.type)
  })
}

/** What the model sees as chat messages, for the fake's `answer` option (instructions first, as a developer message). */
export function chatView(instructions: string | null, items: Item[]): Json[] {
  const messages: Json[] = instructions === null ? [] : [{role: 'developer', content: instructions}]
  for (const it of items) {
    if (it.type === 'message') messages.push({role: it.role, content: partsText(it.content)})
    if (it.type === 'function_call') {
      messages.push({
        role: 'assistant',
        content: null,
        tool_calls: [{id: it.call_id, type: 'function', function: {name: it.name, arguments: it.arguments}}],
      })
    }
    if (it.type === 'function_call_output')
      messages.push({role: 'tool', tool_call_id: it.call_id, content: partsText(it.output)})
  }
  return messages
}
