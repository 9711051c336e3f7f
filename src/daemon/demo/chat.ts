import type {ServerResponse} from 'node:http'
import {setTimeout as sleep} from 'node:timers/promises'

import {type Ask, type DemoTool, type Format, type ToolResult, readChoice, reply} from './answer.js'
import {
  type Body,
  DemoError,
  contentText,
  countWords,
  isRecord,
  jsonPieces,
  newId,
  send,
  startSse,
  wordPieces,
} from './http.js'
import {requireModel} from './models.js'

/**
 * `POST /v1/chat/completions` of the demo upstream, in OpenAI's shapes: `n` choices, text
 * cut by `stop` and `max_tokens` (counted in words), tool calls (streamed as a chunk with
 * the call's index, id, type and name, then its argument fragments), JSON mode and
 * structured outputs, and the usage chunk when `stream_options.include_usage` asks for it.
 */

type Call = {id: string; type: 'function'; function: {name: string; arguments: string}}
type Answer = {kind: 'text'; text: string; finish: 'stop' | 'length'; json: boolean} | {kind: 'calls'; calls: Call[]}

function tools(raw: unknown): DemoTool[] {
  if (raw === undefined || raw === null) return []
  if (!Array.isArray(raw))
    throw new DemoError(400, "Invalid type for 'tools': expected an array.", 'tools', 'invalid_type')
  return raw.flatMap((t: unknown) =>
    isRecord(t) && t.type === 'function' && isRecord(t.function) && typeof t.function.name === 'string'
      ? [{name: t.function.name, parameters: t.function.parameters}]
      : [],
  )
}

function format(raw: unknown): Format {
  if (raw === undefined || raw === null) return {type: 'text'}
  if (!isRecord(raw))
    throw new DemoError(
      400,
      "Invalid type for 'response_format': expected an object.",
      'response_format',
      'invalid_type',
    )
  if (raw.type === 'text' || raw.type === 'json_object') return {type: raw.type}
  if (raw.type !== 'json_schema')
    throw new DemoError(
      400,
      `Invalid value: '${String(raw.type)}'. Supported values are: 'text', 'json_object' and 'json_schema'.`,
      'response_format.type',
      'invalid_value',
    )
  if (!isRecord(raw.json_schema))
    throw new DemoError(
      400,
      "Missing required parameter: 'response_format.json_schema'.",
      'response_format.json_schema',
      'missing_required_parameter',
    )
  return {type: 'json_schema', schema: raw.json_schema.schema ?? {type: 'object'}}
}

/** The last user message's text, and the tool results the conversation ends with (named after the calls they answer). */
function conversation(raw: unknown): {userText: string; results: ToolResult[]} {
  const messages = Array.isArray(raw) ? raw.filter(isRecord) : []
  const names = new Map<unknown, string>()
  for (const m of messages) {
    if (m.role !== 'assistant' || !Array.isArray(m.tool_calls)) continue
    for (const c of m.tool_calls as unknown[])
      if (isRecord(c) && isRecord(c.function)) names.set(c.id, String(c.function.name))
  }

  const results: ToolResult[] = []
  for (let i = messages.length - 1; i >= 0 && messages[i].role === 'tool'; i--) {
    results.unshift({name: names.get(messages[i].tool_call_id) ?? 'a tool', output: contentText(messages[i].content)})
  }

  const user = [...messages].reverse().find((m) => m.role === 'user')
  return {userText: contentText(user?.content), results}
}

/** The answer cut by `stop` and by `max_tokens` (in words), with its finish reason. */
function shape(text: string, body: Body): {text: string; finish: 'stop' | 'length'} {
  const stops =
    typeof body.stop === 'string'
      ? [body.stop]
      : Array.isArray(body.stop)
        ? body.stop.filter((s): s is string => typeof s === 'string' && s !== '')
        : []
  for (const stop of stops) if (text.includes(stop)) text = text.slice(0, text.indexOf(stop))
  const limit = Number(body.max_completion_tokens ?? body.max_tokens)
  const parts = wordPieces(text)
  if (Number.isInteger(limit) && limit >= 0 && parts.length > limit)
    return {text: parts.slice(0, limit).join(''), finish: 'length'}
  return {text, finish: 'stop'}
}

function answers(body: Body): Answer[] {
  const offered = tools(body.tools)
  const ask: Ask = {
    model: String(body.model),
    tools: offered,
    choice: readChoice(body.tool_choice, offered),
    parallel: body.parallel_tool_calls !== false,
    format: format(body.response_format),
    ...conversation(body.messages),
  }
  const n = Number.isInteger(body.n) ? Math.min(Math.max(Number(body.n), 1), 8) : 1
  const r = reply(ask)
  return Array.from({length: n}, (_, k): Answer => {
    if (r.kind === 'calls')
      return {kind: 'calls', calls: r.calls.map((c) => ({id: newId('call'), type: 'function', function: c}))}
    const text = r.json || k === 0 ? r.text : `${r.text} (choice ${k + 1})`
    return {kind: 'text', json: r.json, ...shape(text, body)}
  })
}

/** The deltas of one choice after its first (role) chunk. */
function deltas(a: Answer): Body[] {
  if (a.kind === 'text') return (a.json ? jsonPieces : wordPieces)(a.text).map((content) => ({content}))
  return a.calls.flatMap((c, index) => [
    {tool_calls: [{index, id: c.id, type: 'function', function: {name: c.function.name, arguments: ''}}]},
    ...jsonPieces(c.function.arguments).map((piece) => ({tool_calls: [{index, function: {arguments: piece}}]})),
  ])
}

const finishOf = (a: Answer) => (a.kind === 'calls' ? 'tool_calls' : a.finish)

function message(a: Answer): Body {
  if (a.kind === 'calls') return {role: 'assistant', content: null, refusal: null, tool_calls: a.calls}
  return {role: 'assistant', content: a.text, refusal: null}
}

function usageOf(body: Body, list: Answer[]) {
  const prompt = Array.isArray(body.messages) ? body.messages.length * 8 : 0
  const completion = list.reduce(
    (sum, a) => sum + (a.kind === 'calls' ? deltas(a).length : a.json ? jsonPieces(a.text).length : countWords(a.text)),
    0,
  )
  return {prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion}
}

export async function chat(body: Body, res: ServerResponse): Promise<void> {
  requireModel('chat', body.model)
  const list = answers(body)
  const usage = usageOf(body, list)
  const base = {
    id: newId('chatcmpl-demo', 8, ''),
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    system_fingerprint: 'fp_demo',
  }
  if (body.stream !== true) {
    const choices = list.map((a, index) => ({index, message: message(a), logprobs: null, finish_reason: finishOf(a)}))
    send(res, 200, {...base, object: 'chat.completion', choices, usage})
    return
  }

  const withUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true
  const chunk = (choices: unknown[], extra: object = {}) =>
    `data: ${JSON.stringify({...base, object: 'chat.completion.chunk', choices, ...(withUsage && {usage: null}), ...extra})}\n\n`
  const choice = (index: number, delta: Body, finish: string | null = null) => ({
    index,
    delta,
    logprobs: null,
    finish_reason: finish,
  })
  startSse(res)
  res.write(chunk(list.map((a, index) => choice(index, {role: 'assistant', content: a.kind === 'calls' ? null : ''}))))
  const pending = list.map(deltas)
  for (let i = 0; i < Math.max(...pending.map((p) => p.length)); i++) {
    await sleep(15)
    if (res.destroyed) return
    for (const [index, p] of pending.entries()) if (i < p.length) res.write(chunk([choice(index, p[i])]))
  }

  res.write(chunk(list.map((a, index) => choice(index, {}, finishOf(a)))))
  if (withUsage) res.write(chunk([], {usage}))
  res.end('data: [DONE]\n\n')
}
