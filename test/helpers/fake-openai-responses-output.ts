import {type Item, outputText} from './fake-openai-responses-input.js'
import {isRecord, type Json} from './fake-openai-shared.js'

/**
 * The output side of the fake Responses API: the `Response` object and its stream events,
 * field for field as api.openai.com sends them (unset request fields come back with the
 * API's defaults, `usage` only once the response is done).
 */

/** What the model produced: one assistant message, or one function call. */
export type Generated =
  | {kind: 'text'; id: string; pieces: string[]; truncated: boolean}
  | {kind: 'call'; id: string; callId: string; name: string; pieces: string[]; truncated: boolean}

export type Usage = {input: number; cached: number; cacheWrite: number; output: number; reasoning: number}

export type Turn = {
  id: string
  createdAt: number
  model: string
  body: Json
  instructions: string | null
  previousResponseId: string | null
  store: boolean
  generated: Generated
  usage: Usage
}

/** One SSE event; `content` marks the deltas a die-mid-stream fault counts. */
export type ResponsesSseEvent = {event: string; data: Json; content: boolean}

/** The output item, in progress (nothing generated yet) or done. */
export function outputItem(g: Generated, done: boolean): Item {
  const text = done ? g.pieces.join('') : ''
  const status = !done ? 'in_progress' : g.truncated ? 'incomplete' : 'completed'
  if (g.kind === 'call')
    return {id: g.id, type: 'function_call', status, arguments: text, call_id: g.callId, name: g.name}
  return {id: g.id, type: 'message', status, content: done ? [outputText(text)] : [], role: 'assistant'}
}

/** A function tool as the response echoes it (OpenAI fills in `strict` and `description`). */
function echoTool(tool: unknown): unknown {
  if (!isRecord(tool) || tool.type !== 'function') return tool
  return {type: 'function', description: null, parameters: null, ...tool, strict: tool.strict ?? true}
}

function usageObject(u: Usage): Json {
  return {
    input_tokens: u.input,
    input_tokens_details: {cached_tokens: u.cached, cache_write_tokens: u.cacheWrite},
    output_tokens: u.output,
    output_tokens_details: {reasoning_tokens: u.reasoning},
    total_tokens: u.input + u.output,
  }
}

/** The `Response` object: `in_progress` (as `response.created` carries it) or final. */
export function responseObject(turn: Turn, done: boolean): Json {
  const {body, generated} = turn
  const status = !done ? 'in_progress' : generated.truncated ? 'incomplete' : 'completed'
  return {
    id: turn.id,
    object: 'response',
    created_at: turn.createdAt,
    status,
    background: false,
    completed_at: status === 'completed' ? turn.createdAt : null,
    error: null,
    incomplete_details: status === 'incomplete' ? {reason: 'max_output_tokens'} : null,
    instructions: turn.instructions,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: body.max_tool_calls ?? null,
    model: turn.model,
    output: done ? [outputItem(generated, true)] : [],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: turn.previousResponseId,
    prompt_cache_key: body.prompt_cache_key ?? null,
    reasoning: body.reasoning ?? {effort: null, summary: null},
    safety_identifier: body.safety_identifier ?? null,
    service_tier: 'default',
    store: turn.store,
    temperature: body.temperature ?? 1,
    text: body.text ?? {format: {type: 'text'}, verbosity: 'medium'},
    tool_choice: body.tool_choice ?? 'auto',
    tools: Array.isArray(body.tools) ? body.tools.map(echoTool) : [],
    top_logprobs: body.top_logprobs ?? 0,
    top_p: body.top_p ?? 1,
    truncation: body.truncation ?? 'disabled',
    ...(done ? {usage: usageObject(turn.usage)} : {}),
    ...(typeof body.user === 'string' ? {user: body.user} : {}),
    metadata: body.metadata ?? {},
  }
}

/** The events of the one output item between `output_item.added` and `output_item.done`. */
function itemEvents(g: Generated): ResponsesSseEvent[] {
  const at = {item_id: g.id, output_index: 0}
  const text = g.pieces.join('')
  if (g.kind === 'call') {
    return [
      ...g.pieces.map((delta) => ({
        event: 'response.function_call_arguments.delta',
        data: {...at, delta},
        content: delta !== '',
      })),
      {event: 'response.function_call_arguments.done', data: {...at, name: g.name, arguments: text}, content: false},
    ]
  }
  const part = {...at, content_index: 0}
  return [
    {event: 'response.content_part.added', data: {...part, part: outputText('')}, content: false},
    ...g.pieces.map((delta) => ({
      event: 'response.output_text.delta',
      data: {...part, delta, logprobs: []},
      content: delta !== '',
    })),
    {event: 'response.output_text.done', data: {...part, text, logprobs: []}, content: false},
    {event: 'response.content_part.done', data: {...part, part: outputText(text)}, content: false},
  ]
}

/**
 * The stream: `response.created`, `response.in_progress`, the item's events, then
 * `response.completed` (or `response.incomplete`) with the whole response. Every event names
 * its type in `event:` and in `type`, and numbers itself from 0; there is no `[DONE]`.
 */
export function streamEvents(turn: Turn): ResponsesSseEvent[] {
  const g = turn.generated
  const final = responseObject(turn, true)
  const events = [
    {event: 'response.created', data: {response: responseObject(turn, false)}, content: false},
    {event: 'response.in_progress', data: {response: responseObject(turn, false)}, content: false},
    {event: 'response.output_item.added', data: {output_index: 0, item: outputItem(g, false)}, content: false},
    ...itemEvents(g),
    {event: 'response.output_item.done', data: {output_index: 0, item: outputItem(g, true)}, content: false},
    {
      event: final.status === 'incomplete' ? 'response.incomplete' : 'response.completed',
      data: {response: final},
      content: false,
    },
  ]
  return events.map((e, i) => ({
    event: e.event,
    data: {type: e.event, sequence_number: i, ...e.data},
    content: e.content,
  }))
}
