import type {DemoTool, Format, ToolResult} from './answer.js'
import {type Body, DemoError, contentText, countWords, isRecord, newId} from './http.js'
import {outputText} from './responses-output.js'

/**
 * The input side of the demo's Responses API: the request's `input` as stored items (each
 * with an `id` and a `status`, message text as content parts, the way
 * `GET /v1/responses/{id}/input_items` lists them), its function tools and text format, and
 * what the model reads from the items.
 */

export type Item = Body

const ROLES = ['user', 'assistant', 'system', 'developer']

const invalid = (param: string, message: string, code = 'invalid_value') => new DemoError(400, message, param, code)

function parts(role: string, content: unknown, at: string): Body[] {
  if (typeof content === 'string')
    return [role === 'assistant' ? outputText(content) : {type: 'input_text', text: content}]
  if (!Array.isArray(content))
    throw invalid(
      `${at}.content`,
      `Invalid type for '${at}.content': expected a string or an array of content parts.`,
      'invalid_type',
    )
  return content.map((p: unknown, j) => {
    if (!isRecord(p) || typeof p.type !== 'string')
      throw invalid(`${at}.content[${j}]`, `Invalid content part at '${at}.content[${j}]'.`)
    return p.type === 'output_text' ? {...outputText(String(p.text ?? '')), ...p} : p
  })
}

function item(raw: unknown, at: string, lookup: (id: string) => Item | undefined): Item {
  if (!isRecord(raw)) throw invalid(at, `Invalid type for '${at}': expected an object.`, 'invalid_type')
  const type = raw.type ?? (raw.role === undefined ? undefined : 'message')
  const id = typeof raw.id === 'string' ? raw.id : undefined
  switch (type) {
    case 'message': {
      const role = String(raw.role)
      if (!ROLES.includes(role))
        throw invalid(
          `${at}.role`,
          `Invalid value: '${role}'. Supported values are: 'user', 'assistant', 'system', and 'developer'.`,
        )
      return {id: id ?? newId('msg', 24), type, role, content: parts(role, raw.content, at), status: 'completed'}
    }

    case 'function_call':
      return {
        id: id ?? newId('fc', 24),
        type,
        status: 'completed',
        arguments: String(raw.arguments ?? ''),
        call_id: String(raw.call_id),
        name: String(raw.name),
      }
    case 'function_call_output':
      return {
        id: id ?? newId('fco', 24),
        type,
        call_id: String(raw.call_id),
        output: raw.output ?? '',
        status: 'completed',
      }
    case 'item_reference': {
      const found = lookup(String(raw.id))
      if (!found) throw invalid('input', `Item with id '${String(raw.id)}' not found.`, 'item_not_found')
      return found
    }

    default:
      if (typeof type !== 'string')
        throw invalid(`${at}.type`, `Missing required parameter: '${at}.type'.`, 'missing_required_parameter')
      return {...raw, id: id ?? newId('item', 24)}
  }
}

/** The request's `input` (a string is one user message) as stored items; `lookup` resolves `item_reference`s. */
export function readInput(input: unknown, lookup: (id: string) => Item | undefined): Item[] {
  if (input === undefined || input === null) return []
  if (typeof input === 'string') return [item({role: 'user', content: input}, 'input', lookup)]
  if (!Array.isArray(input))
    throw invalid('input', "Invalid type for 'input': expected a string or an array of input items.", 'invalid_type')
  return input.map((raw, i) => item(raw, `input[${i}]`, lookup))
}

/** The function tools of a Responses request (`{type: 'function', name, parameters}`); other tools are not the demo's. */
export function readTools(raw: unknown): DemoTool[] {
  if (raw === undefined || raw === null) return []
  if (!Array.isArray(raw)) throw invalid('tools', "Invalid type for 'tools': expected an array.", 'invalid_type')
  return raw.flatMap((t: unknown) =>
    isRecord(t) && t.type === 'function' && typeof t.name === 'string'
      ? [{name: t.name, parameters: t.parameters}]
      : [],
  )
}

/** `text.format`: text, json_object, or json_schema with its `schema`. */
export function readFormat(text: unknown): Format {
  const format = isRecord(text) ? text.format : undefined
  if (format === undefined || format === null) return {type: 'text'}
  if (!isRecord(format))
    throw invalid('text.format', "Invalid type for 'text.format': expected an object.", 'invalid_type')
  if (format.type === 'text' || format.type === 'json_object') return {type: format.type}
  if (format.type === 'json_schema') return {type: 'json_schema', schema: format.schema ?? {type: 'object'}}
  throw invalid(
    'text.format.type',
    `Invalid value: '${String(format.type)}'. Supported values are: 'text', 'json_object' and 'json_schema'.`,
  )
}

/** What the model reads: the last user message's text, and the tool outputs the input ends with. */
export function conversation(items: Item[]): {userText: string; results: ToolResult[]} {
  const names = new Map<unknown, string>(
    items.filter((it) => it.type === 'function_call').map((it) => [it.call_id, String(it.name)]),
  )
  const results: ToolResult[] = []
  for (let i = items.length - 1; i >= 0 && items[i].type === 'function_call_output'; i--) {
    const output = items[i].output
    results.unshift({
      name: names.get(items[i].call_id) ?? 'a tool',
      output: typeof output === 'string' ? output : contentText(output),
    })
  }

  const user = [...items].reverse().find((it) => it.type === 'message' && it.role === 'user')
  return {userText: contentText(user?.content), results}
}

/** Input tokens, counted as words: the instructions and every item's text. */
export function inputTokens(instructions: string | null, items: Item[]): number {
  const text = (it: Item) =>
    it.type === 'message'
      ? contentText(it.content)
      : it.type === 'function_call'
        ? `${String(it.name)} ${String(it.arguments)}`
        : it.type === 'function_call_output'
          ? contentText(it.output) || String(it.output)
          : ''
  return countWords(instructions ?? '') + items.reduce((sum, it) => sum + countWords(text(it)), 0)
}
