import {type Body, isRecord} from './http.js'

/**
 * The output side of the demo's Responses API, written from OpenAI's `Response` and
 * `ResponseStreamEvent` schemas: the response object (request fields echoed, unset ones with
 * the API's defaults, `usage` once done) and the stream events that build it.
 */

/** One output item and the deltas that stream it: an assistant message, or a function call. */
export type OutItem =
  | {type: 'message'; id: string; pieces: string[]}
  | {type: 'function_call'; id: string; callId: string; name: string; pieces: string[]}

export type Turn = {
  id: string
  createdAt: number
  model: string
  body: Body
  instructions: string | null
  previousResponseId: string | null
  store: boolean
  items: OutItem[]
  /** cut by `max_output_tokens` */
  truncated: boolean
  usage: {input: number; output: number}
}

export type StreamEvent = Body & {type: string}

export const outputText = (text: string): Body => ({type: 'output_text', annotations: [], logprobs: [], text})

/** The item, in progress (nothing generated yet) or done. */
export function outputItem(it: OutItem, done: boolean, truncated: boolean): Body {
  const text = done ? it.pieces.join('') : ''
  const status = !done ? 'in_progress' : truncated ? 'incomplete' : 'completed'
  if (it.type === 'function_call')
    return {id: it.id, type: 'function_call', status, arguments: text, call_id: it.callId, name: it.name}
  return {id: it.id, type: 'message', status, content: done ? [outputText(text)] : [], role: 'assistant'}
}

/** A function tool as a response echoes it: OpenAI fills in `description`, `parameters` and `strict`. */
function echoTool(tool: unknown): unknown {
  if (!isRecord(tool) || tool.type !== 'function') return tool
  return {type: 'function', description: null, parameters: null, ...tool, strict: tool.strict ?? true}
}

/** The `Response` object: `in_progress` (as `response.created` carries it) or final. */
export function responseObject(turn: Turn, done: boolean): Body {
  const {body} = turn
  const status = !done ? 'in_progress' : turn.truncated ? 'incomplete' : 'completed'
  const usage = {
    input_tokens: turn.usage.input,
    input_tokens_details: {cached_tokens: 0, cache_write_tokens: 0},
    output_tokens: turn.usage.output,
    output_tokens_details: {reasoning_tokens: 0},
    total_tokens: turn.usage.input + turn.usage.output,
  }
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
    output: done ? turn.items.map((it) => outputItem(it, true, turn.truncated)) : [],
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
    ...(done && {usage}),
    ...(typeof body.user === 'string' && {user: body.user}),
    metadata: body.metadata ?? {},
  }
}

/** The events of one output item between `output_item.added` and `output_item.done`. */
function itemEvents(it: OutItem, outputIndex: number): StreamEvent[] {
  const at = {item_id: it.id, output_index: outputIndex}
  const text = it.pieces.join('')
  if (it.type === 'function_call') {
    return [
      ...it.pieces.map((delta) => ({type: 'response.function_call_arguments.delta', ...at, delta})),
      {type: 'response.function_call_arguments.done', ...at, name: it.name, arguments: text},
    ]
  }

  const part = {...at, content_index: 0}
  return [
    {type: 'response.content_part.added', ...part, part: outputText('')},
    ...it.pieces.map((delta) => ({type: 'response.output_text.delta', ...part, delta, logprobs: []})),
    {type: 'response.output_text.done', ...part, text, logprobs: []},
    {type: 'response.content_part.done', ...part, part: outputText(text)},
  ]
}

/**
 * The stream: `response.created`, `response.in_progress`, each item's events, then
 * `response.completed` (or `response.incomplete`) with the whole response. Events number
 * themselves from 0; OpenAI names each in an `event:` line too, and ends with no `[DONE]`.
 */
export function streamEvents(turn: Turn): StreamEvent[] {
  const final = responseObject(turn, true)
  const events: StreamEvent[] = [
    {type: 'response.created', response: responseObject(turn, false)},
    {type: 'response.in_progress', response: responseObject(turn, false)},
    ...turn.items.flatMap((it, i) => [
      {type: 'response.output_item.added', output_index: i, item: outputItem(it, false, turn.truncated)},
      ...itemEvents(it, i),
      {type: 'response.output_item.done', output_index: i, item: outputItem(it, true, turn.truncated)},
    ]),
    {type: final.status === 'incomplete' ? 'response.incomplete' : 'response.completed', response: final},
  ]
  return events.map((e, i) => ({...e, sequence_number: i}))
}
