import {randomBytes} from 'node:crypto'

import {splitWords} from './fake-chatgpt-web.js'
import {isRecord, type Json} from './fake-codex-http.js'

/**
 * The SSE events of one Codex backend answer, built as the backend sends them (event names the
 * Codex CLI handles: openai/codex codex-rs/codex-api/src/sse/responses.rs): Responses stream events
 * with a `sequence_number` counting from 0, plus the backend-only `codex.rate_limits` and
 * `codex.response.metadata` events (no sequence number) between them. Pure: no I/O.
 *
 * The backend's quirks kept here: `response.completed.response.output` is `[]` (since about
 * 2026-04; clients rebuild it from `response.output_item.done`, see BerriAI/litellm#26179); the
 * usage has no `input_tokens_details.cache_write_tokens` (the public schema requires it);
 * assistant messages carry `phase` ("commentary" | "final_answer"); `usage` is null before the end.
 */

export type Phase = 'commentary' | 'final_answer'

/** One output item of a turn. `chunks` fixes how its text / arguments are streamed (joined, they must equal it). */
export type CodexOutput =
  | {type: 'message'; text: string; phase?: Phase | null; chunks?: string[]}
  | {type: 'reasoning'; summary: string[]; encryptedContent?: string}
  | {type: 'function_call'; name: string; arguments: string; callId?: string; chunks?: string[]}

/** Token counts of a turn (`output` includes `reasoning`, as in the real usage). */
export type TurnUsage = {input: number; cached: number; output: number; reasoning: number}

export type SseFrame = {event: string; data: Json}

export type StreamPlan = {
  responseId: string
  model: string
  createdAt: number
  /** The request body: the response object echoes its instructions, tools, reasoning, text… */
  body: Json
  output: CodexOutput[]
  usage: TurnUsage
  /** `response.completed` carries the items (the public API's shape) instead of the backend's `[]`. */
  fullOutput: boolean
  /** The `codex.rate_limits` event (after `response.in_progress`); undefined: none. */
  rateLimits: Json | undefined
  /** Echoed in `codex.response.metadata` (after `response.created`), as the `x-codex-turn-state` header. */
  turnState: string
  split: (text: string) => string[]
}

const hex = (n: number) => randomBytes(n).toString('hex')

/** Code-point pieces of at most `size` (never splits a surrogate pair). */
export function fragments(text: string, size = 8): string[] {
  const points = Array.from(text)
  const out: string[] = []
  for (let i = 0; i < points.length; i += size) out.push(points.slice(i, i + size).join(''))
  return out
}

export {splitWords}

/** Tools as the response object echoes them: function tools get `description`, `parameters` and `strict` filled in. */
function echoTools(tools: unknown): unknown[] {
  if (!Array.isArray(tools)) return []
  return tools.map((t: unknown) => {
    if (!isRecord(t) || t.type !== 'function') return t
    return {...t, description: t.description ?? null, parameters: t.parameters ?? null, strict: t.strict ?? true}
  })
}

function responseObject(plan: StreamPlan, status: string): Json {
  const b = plan.body
  const reasoning = isRecord(b.reasoning) ? b.reasoning : {}
  const text = isRecord(b.text) ? b.text : {}
  return {
    id: plan.responseId,
    object: 'response',
    created_at: plan.createdAt,
    status,
    background: false,
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: b.instructions ?? null,
    max_output_tokens: null,
    max_tool_calls: null,
    model: plan.model,
    output: [],
    parallel_tool_calls: b.parallel_tool_calls ?? true,
    previous_response_id: null,
    prompt_cache_key: b.prompt_cache_key ?? null,
    reasoning: {effort: reasoning.effort ?? null, summary: reasoning.summary ?? null},
    safety_identifier: null,
    service_tier: 'auto',
    store: false,
    temperature: 1,
    text: {format: text.format ?? {type: 'text'}, verbosity: text.verbosity ?? 'medium'},
    tool_choice: b.tool_choice ?? 'auto',
    tools: echoTools(b.tools),
    top_logprobs: 0,
    top_p: 1,
    truncation: 'disabled',
    usage: null,
    metadata: {},
  }
}

class Frames {
  readonly list: SseFrame[] = []
  #seq = 0

  /** A Responses event (numbered). */
  add(type: string, fields: Json): void {
    this.list.push({event: type, data: {type, sequence_number: this.#seq++, ...fields}})
  }

  /** A backend-only event (not numbered). */
  extra(data: Json): void {
    this.list.push({event: String(data.type), data})
  }
}

function messageFrames(
  f: Frames,
  item: Extract<CodexOutput, {type: 'message'}>,
  i: number,
  split: StreamPlan['split'],
): Json {
  const id = `msg_${hex(24)}`
  const phase = item.phase === undefined ? 'final_answer' : item.phase
  const base = {id, type: 'message', role: 'assistant', ...(phase === null ? {} : {phase})}
  const at = {item_id: id, output_index: i, content_index: 0}
  const part = (text: string) => ({type: 'output_text', annotations: [], logprobs: [], text})
  f.add('response.output_item.added', {output_index: i, item: {...base, status: 'in_progress', content: []}})
  f.add('response.content_part.added', {...at, part: part('')})
  for (const delta of item.chunks ?? split(item.text)) f.add('response.output_text.delta', {...at, delta, logprobs: []})
  f.add('response.output_text.done', {...at, text: item.text, logprobs: []})
  f.add('response.content_part.done', {...at, part: part(item.text)})
  const done = {...base, status: 'completed', content: [part(item.text)]}
  f.add('response.output_item.done', {output_index: i, item: done})
  return done
}

function reasoningFrames(
  f: Frames,
  item: Extract<CodexOutput, {type: 'reasoning'}>,
  i: number,
  split: StreamPlan['split'],
): Json {
  const id = `rs_${hex(24)}`
  const encrypted = item.encryptedContent === undefined ? {} : {encrypted_content: item.encryptedContent}
  f.add('response.output_item.added', {output_index: i, item: {id, type: 'reasoning', summary: [], ...encrypted}})
  item.summary.forEach((text, s) => {
    const at = {item_id: id, output_index: i, summary_index: s}
    f.add('response.reasoning_summary_part.added', {...at, part: {type: 'summary_text', text: ''}})
    for (const delta of split(text)) f.add('response.reasoning_summary_text.delta', {...at, delta})
    f.add('response.reasoning_summary_text.done', {...at, text})
    f.add('response.reasoning_summary_part.done', {...at, part: {type: 'summary_text', text}})
  })
  const done = {
    id,
    type: 'reasoning',
    summary: item.summary.map((text) => ({type: 'summary_text', text})),
    ...encrypted,
  }
  f.add('response.output_item.done', {output_index: i, item: done})
  return done
}

function callFrames(f: Frames, item: Extract<CodexOutput, {type: 'function_call'}>, i: number): Json {
  const id = `fc_${hex(24)}`
  const base = {
    id,
    type: 'function_call',
    call_id: item.callId ?? `call_${randomBytes(18).toString('base64url')}`,
    name: item.name,
  }
  f.add('response.output_item.added', {output_index: i, item: {...base, status: 'in_progress', arguments: ''}})
  for (const delta of item.chunks ?? fragments(item.arguments))
    f.add('response.function_call_arguments.delta', {item_id: id, output_index: i, delta})
  f.add('response.function_call_arguments.done', {
    item_id: id,
    output_index: i,
    name: item.name,
    arguments: item.arguments,
  })
  const done = {...base, status: 'completed', arguments: item.arguments}
  f.add('response.output_item.done', {output_index: i, item: done})
  return done
}

/** created, codex.response.metadata, in_progress, codex.rate_limits: the start of every stream. */
function opening(plan: StreamPlan): Frames {
  const f = new Frames()
  f.add('response.created', {response: responseObject(plan, 'in_progress')})
  f.extra({
    type: 'codex.response.metadata',
    response_id: plan.responseId,
    headers: {'x-codex-turn-state': plan.turnState},
  })
  f.add('response.in_progress', {response: responseObject(plan, 'in_progress')})
  if (plan.rateLimits) f.extra(plan.rateLimits)
  return f
}

export function usageOf(u: TurnUsage): Json {
  return {
    input_tokens: u.input,
    input_tokens_details: {cached_tokens: u.cached},
    output_tokens: u.output,
    output_tokens_details: {reasoning_tokens: u.reasoning},
    total_tokens: u.input + u.output,
  }
}

/** The whole answer: opening, every output item, `response.completed`. */
export function streamFrames(plan: StreamPlan): SseFrame[] {
  const f = opening(plan)
  const items = plan.output.map((item, i) => {
    if (item.type === 'message') return messageFrames(f, item, i, plan.split)
    if (item.type === 'reasoning') return reasoningFrames(f, item, i, plan.split)
    return callFrames(f, item, i)
  })
  const response = {
    ...responseObject(plan, 'completed'),
    completed_at: plan.createdAt,
    output: plan.fullOutput ? items : [],
    usage: usageOf(plan.usage),
  }
  f.add('response.completed', {response})
  return f.list
}

/** The opening, then `response.failed` with `error: {code, message}` (codes such as context_length_exceeded, usage_not_included). */
export function failedFrames(plan: StreamPlan, code: string, message: string): SseFrame[] {
  const f = opening(plan)
  f.add('response.failed', {response: {...responseObject(plan, 'failed'), error: {code, message}}})
  return f.list
}

/** The wire text of one event: `event:` and `data:` lines (compact JSON), then a blank line. */
export function frameText(frame: {event?: string; data: unknown}): string {
  const data = typeof frame.data === 'string' ? frame.data : JSON.stringify(frame.data)
  return `${frame.event === undefined ? '' : `event: ${frame.event}\n`}data: ${data}\n\n`
}
