import {createHash} from 'node:crypto'

import type {ChatTool} from '../chat/types.js'
import {invalid, isObject} from './validate.js'

/**
 * Anthropic tools → chat function tools. Anthropic takes tool names up to 128 characters
 * (MCP tools arrive as `mcp__server__tool`, some with dots); OpenAI's function names must
 * match `^[a-zA-Z0-9_-]{1,64}$`. Names outside that are shortened deterministically — the
 * same name always gives the same chat name, so a conversation's history and the upstream's
 * prompt cache stay stable across requests — and mapped back on the way out.
 */

const CHAT_NAME = /^[a-zA-Z0-9_-]{1,64}$/

/** Shortens tool names for chat and remembers how to map them back. */
export class ToolNames {
  readonly #back = new Map<string, string>()

  /** The chat name of an Anthropic tool name: itself when chat accepts it, else its safe characters cut short plus 8 hex digits of its SHA-256. */
  toChat(name: string): string {
    if (CHAT_NAME.test(name)) return name
    const hash = createHash('sha256').update(name).digest('hex').slice(0, 8)
    const short = `${name.replaceAll(/[^a-zA-Z0-9_-]/g, '_').slice(0, 55)}_${hash}`
    this.#back.set(short, name)
    return short
  }

  /** chat name → client name, only for the names that changed */
  get map(): ReadonlyMap<string, string> {
    return this.#back
  }
}

/** The chat tools of `tools`; server tools (a dated `type`, run by Anthropic itself) are refused. */
export function toolsToChat(value: unknown, names: ToolNames): ChatTool[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw invalid('tools', 'Input should be a valid list')
  return value.map((tool: unknown, i): ChatTool => {
    const param = `tools[${i}]`
    if (!isObject(tool)) throw invalid(param, 'Input should be an object')
    if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') {
      throw invalid(
        param,
        `\`${String(tool.type)}\` is a server tool, run by Anthropic's own servers; this gateway serves models through the chat API, which can only call the client's own tools (name, description, input_schema)`,
      )
    }

    if (typeof tool.name !== 'string' || tool.name === '') throw invalid(`${param}.name`, 'Field required')
    if (!isObject(tool.input_schema)) throw invalid(`${param}.input_schema`, 'Field required (a JSON schema object)')
    if (tool.description !== undefined && typeof tool.description !== 'string')
      throw invalid(`${param}.description`, 'Input should be a valid string')
    // `strict`, `cache_control`, `defer_loading`, `input_examples` have no chat equivalent
    // that is safe to send (OpenAI's `strict` demands a stricter schema dialect): dropped.
    return {
      type: 'function',
      function: {
        name: names.toChat(tool.name),
        ...(typeof tool.description === 'string' && {description: tool.description}),
        parameters: tool.input_schema,
      },
    }
  })
}

/** `tool_choice` → chat `tool_choice` and `parallel_tool_calls`; nothing when the request has no tools (chat refuses both then). */
export function toolChoiceToChat(
  value: unknown,
  tools: readonly ChatTool[] | undefined,
  names: ToolNames,
): Record<string, unknown> {
  if (value === undefined || value === null) return {}
  if (!isObject(value)) throw invalid('tool_choice', 'Input should be an object')
  const out: Record<string, unknown> = {}
  switch (value.type) {
    case 'auto':
    case 'none': {
      out.tool_choice = value.type
      break
    }

    case 'any': {
      out.tool_choice = 'required'
      break
    }

    case 'tool': {
      if (typeof value.name !== 'string' || value.name === '') throw invalid('tool_choice.name', 'Field required')
      const name = names.toChat(value.name)
      if (!tools?.some((t) => t.function.name === name))
        throw invalid('tool_choice.name', `Tool '${value.name}' not found in tools`)
      out.tool_choice = {type: 'function', function: {name}}
      break
    }

    default: {
      throw invalid('tool_choice.type', "Input should be 'auto', 'any', 'tool' or 'none'")
    }
  }

  if (value.disable_parallel_tool_use === true && value.type !== 'none') out.parallel_tool_calls = false
  return tools && tools.length > 0 ? out : {}
}
