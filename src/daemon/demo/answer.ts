import {DemoError} from './http.js'
import {instanceOf} from './schema-instance.js'

/**
 * What the demo model answers, the same for chat and for the Responses API.
 *
 * Tool calls, when the request offers function tools and `tool_choice` is not `none`:
 * - a named function (`{type: 'function', …}`): that function;
 * - `required`: the functions the last user message names, else the first tool;
 * - `auto` (the default): the functions the last user message names, if any — "names" means
 *   the function's name appears in it as a whole word, any case ("call get_weather for Paris").
 * With `parallel_tool_calls: false` only the first of them. A message that follows tool
 * results is not a user message, so under `auto` the answer to tool results is text that
 * quotes them. Each call's arguments are a minimal valid instance of the function's
 * `parameters` schema.
 *
 * Otherwise text: an echo of the last user message (or of the tool results), as JSON
 * (`{"answer": …}`) in JSON mode, or a minimal valid instance of the schema under
 * structured outputs.
 */

export type DemoTool = {name: string; parameters: unknown}
export type ToolChoice = 'none' | 'auto' | 'required' | {name: string}
export type Format = {type: 'text'} | {type: 'json_object'} | {type: 'json_schema'; schema: unknown}
export type ToolResult = {name: string; output: string}

export type Ask = {
  model: string
  tools: DemoTool[]
  choice: ToolChoice
  parallel: boolean
  format: Format
  /** the text of the last user message ('' when there is none) */
  userText: string
  /** the tool results the conversation ends with (empty unless its last message is one) */
  results: ToolResult[]
}

export type Reply =
  {kind: 'calls'; calls: Array<{name: string; arguments: string}>} | {kind: 'text'; text: string; json: boolean}

const excerpt = (text: string, max = 80) => (text.length > max ? `${text.slice(0, max - 3)}...` : text)

/** A `tool_choice` as both APIs spell it: a mode, or a function named as chat (`function.name`) or Responses (`name`) does. */
export function readChoice(raw: unknown, tools: DemoTool[]): ToolChoice {
  if (raw === undefined || raw === null) return tools.length > 0 ? 'auto' : 'none'
  if (raw === 'none' || raw === 'auto' || raw === 'required') return raw
  // other forms (allowed_tools, custom tools, hosted tools) are beyond the demo: it chooses itself
  if (typeof raw === 'object' && (raw as {type?: unknown}).type !== 'function') return 'auto'
  const named =
    typeof raw === 'object'
      ? ((raw as {function?: {name?: unknown}}).function?.name ?? (raw as {name?: unknown}).name)
      : undefined
  if (typeof named !== 'string')
    throw new DemoError(400, `Invalid value for 'tool_choice': ${JSON.stringify(raw)}.`, 'tool_choice', 'invalid_value')
  if (!tools.some((t) => t.name === named))
    throw new DemoError(
      400,
      `Invalid value for 'tool_choice': no function named '${named}' is among the tools.`,
      'tool_choice',
      'invalid_value',
    )
  return {name: named}
}

/** The tools named in `text` as whole words, in the order they first appear. */
function namedIn(text: string, tools: DemoTool[]): DemoTool[] {
  const lower = text.toLowerCase()
  const at = (name: string) => {
    const escaped = name.toLowerCase().replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')
    return new RegExp(`(^|[^a-z0-9_-])${escaped}($|[^a-z0-9_-])`).exec(lower)?.index ?? -1
  }

  return tools
    .map((tool) => ({tool, index: at(tool.name)}))
    .filter((t) => t.index >= 0)
    .sort((a, b) => a.index - b.index)
    .map((t) => t.tool)
}

function toolsToCall(ask: Ask): DemoTool[] {
  const {tools, choice} = ask
  if (tools.length === 0 || choice === 'none') return []
  if (typeof choice === 'object') return tools.filter((t) => t.name === choice.name).slice(0, 1)
  const named = ask.results.length === 0 ? namedIn(ask.userText, tools) : []
  const picked = named.length > 0 ? named : choice === 'required' ? [tools[0]] : []
  return ask.parallel ? picked : picked.slice(0, 1)
}

function prose(ask: Ask): string {
  if (ask.results.length > 0) {
    const got = ask.results.map((r) => `${r.name} returned "${excerpt(r.output, 120)}"`).join('; ')
    return `This is the gptconv demo upstream answering as ${ask.model}. The tool results: ${got}. Add a real token with \`gptconv tokens add\` to talk to a model.`
  }

  return `This is the gptconv demo upstream answering as ${ask.model}. You said: "${excerpt(ask.userText)}". Add a real token with \`gptconv tokens add\` to talk to a model.`
}

export function reply(ask: Ask): Reply {
  const calls = toolsToCall(ask)
  if (calls.length > 0)
    return {
      kind: 'calls',
      calls: calls.map((t) => ({name: t.name, arguments: JSON.stringify(instanceOf(t.parameters) ?? {})})),
    }
  if (ask.format.type === 'json_object') return {kind: 'text', text: JSON.stringify({answer: prose(ask)}), json: true}
  if (ask.format.type === 'json_schema')
    return {kind: 'text', text: JSON.stringify(instanceOf(ask.format.schema)), json: true}
  return {kind: 'text', text: prose(ask), json: false}
}
