import type {ChatTool} from '../chat/types.js'
import {InvalidRequestError} from '../errors.js'
import {isObject} from './input.js'
import type {CustomTool, FunctionTool, ResponsesTool, ResponsesToolChoice} from './types.js'

/**
 * Responses tools ↔ chat tools. Function tools are flat in Responses (`{type, name,
 * parameters}`) and wrapped in chat (`{type, function: {…}}`). A custom tool takes free-form
 * text; on chat it becomes a function with one string parameter `input`, and its calls are
 * turned back into `custom_tool_call` items. Built-in tools (web search, file search, code
 * interpreter, computer use, MCP, shell, apply_patch…) run on OpenAI's servers: a chat upstream
 * has none of them.
 */

export type DecodedTools = {echo: ResponsesTool[]; chat: ChatTool[]; custom: string[]}

function functionTool(tool: Record<string, unknown>, at: string): {echo: FunctionTool; chat: ChatTool} {
  if (typeof tool.name !== 'string' || tool.name === '')
    throw new InvalidRequestError(`\`${at}.name\` must be a non-empty string.`, `${at}.name`)
  if (tool.parameters !== undefined && tool.parameters !== null && !isObject(tool.parameters))
    throw new InvalidRequestError(`\`${at}.parameters\` must be a JSON schema object.`, `${at}.parameters`)
  const description = typeof tool.description === 'string' ? tool.description : undefined
  const parameters = (tool.parameters as Record<string, unknown> | undefined) ?? null
  const strict = typeof tool.strict === 'boolean' ? tool.strict : null
  return {
    echo: {type: 'function', name: tool.name, ...(description !== undefined && {description}), parameters, strict},
    chat: {
      type: 'function',
      function: {
        name: tool.name,
        ...(description !== undefined && {description}),
        ...(parameters && {parameters}),
        ...(strict !== null && {strict}),
      },
    },
  }
}

/** A grammar-constrained custom tool: the chat model cannot be constrained, so it is told the grammar. */
function customDescription(
  description: string | undefined,
  format: Record<string, unknown> | undefined,
): string | undefined {
  if (format?.type !== 'grammar' || typeof format.definition !== 'string') return description
  const rule = `The input must follow this ${typeof format.syntax === 'string' ? format.syntax : ''} grammar:\n${format.definition}`
  return description ? `${description}\n\n${rule}` : rule
}

function customTool(tool: Record<string, unknown>, at: string): {echo: CustomTool; chat: ChatTool} {
  if (typeof tool.name !== 'string' || tool.name === '')
    throw new InvalidRequestError(`\`${at}.name\` must be a non-empty string.`, `${at}.name`)
  const description = typeof tool.description === 'string' ? tool.description : undefined
  const format = isObject(tool.format) ? tool.format : undefined
  const told = customDescription(description, format)
  return {
    echo: {type: 'custom', name: tool.name, ...(description !== undefined && {description}), ...(format && {format})},
    chat: {
      type: 'function',
      function: {
        name: tool.name,
        ...(told !== undefined && {description: told}),
        parameters: {
          type: 'object',
          properties: {input: {type: 'string'}},
          required: ['input'],
          additionalProperties: false,
        },
      },
    },
  }
}

export function decodeTools(value: unknown): DecodedTools {
  const out: DecodedTools = {echo: [], chat: [], custom: []}
  if (value === undefined || value === null) return out
  if (!Array.isArray(value)) throw new InvalidRequestError('`tools` must be a list of tools.', 'tools')
  for (const [i, tool] of value.entries()) {
    const at = `tools[${i}]`
    if (!isObject(tool)) throw new InvalidRequestError(`\`${at}\` must be an object.`, at)
    let mapped: {echo: ResponsesTool; chat: ChatTool}
    if (tool.type === 'function') mapped = functionTool(tool, at)
    else if (tool.type === 'custom') mapped = customTool(tool, at)
    else
      throw new InvalidRequestError(
        `\`${at}.type\`: the built-in tool ${JSON.stringify(tool.type)} runs on OpenAI's servers and cannot be served through a chat upstream; only function and custom tools can.`,
        `${at}.type`,
      )
    if (tool.type === 'custom') out.custom.push(mapped.echo.name)
    out.echo.push(mapped.echo)
    out.chat.push(mapped.chat)
  }

  return out
}

function namedTool(value: unknown, tools: DecodedTools, at: string): {type: 'function' | 'custom'; name: string} {
  if (!isObject(value) || (value.type !== 'function' && value.type !== 'custom') || typeof value.name !== 'string') {
    throw new InvalidRequestError(`\`${at}\` must name a function or custom tool: {type: "function", name}.`, at)
  }

  if (!tools.echo.some((t) => t.name === value.name))
    throw new InvalidRequestError(`\`${at}\` names the tool '${value.name}', which is not in \`tools\`.`, at)
  return {type: value.type, name: value.name}
}

/** `tool_choice` → its echo and the chat value (undefined: leave it out). */
export function decodeToolChoice(value: unknown, tools: DecodedTools): {echo: ResponsesToolChoice; chat: unknown} {
  if (value === undefined || value === null) return {echo: 'auto', chat: undefined}
  if (value === 'none' || value === 'auto' || value === 'required') return {echo: value, chat: value}
  if (isObject(value) && value.type === 'allowed_tools') {
    const mode = value.mode
    if (mode !== 'auto' && mode !== 'required')
      throw new InvalidRequestError('`tool_choice.mode` must be "auto" or "required".', 'tool_choice.mode')
    if (!Array.isArray(value.tools))
      throw new InvalidRequestError('`tool_choice.tools` must be a list of tools.', 'tool_choice.tools')
    const allowed = value.tools.map((t, i) => namedTool(t, tools, `tool_choice.tools[${i}]`))
    return {
      echo: {type: 'allowed_tools', mode, tools: allowed},
      chat: {
        type: 'allowed_tools',
        allowed_tools: {mode, tools: allowed.map((t) => ({type: 'function', function: {name: t.name}}))},
      },
    }
  }

  if (isObject(value) && (value.type === 'function' || value.type === 'custom')) {
    const named = namedTool(value, tools, 'tool_choice')
    return {echo: named, chat: {type: 'function', function: {name: named.name}}}
  }

  throw new InvalidRequestError(
    '`tool_choice` must be "none", "auto", "required", a function or custom tool, or allowed_tools; built-in tools cannot be served through a chat upstream.',
    'tool_choice',
  )
}
