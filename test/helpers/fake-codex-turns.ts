import {randomBytes} from 'node:crypto'

import type {CodexOutput, TurnUsage} from './fake-codex-events.js'
import {isRecord, type Json} from './fake-codex-http.js'

/**
 * What the fake Codex backend answers when no script is queued: deterministic from the request.
 *
 * - Reasoning: when `reasoning` is given with an effort other than "none", a reasoning item comes
 *   first; its summary is `Thinking about: <last user text>` when `reasoning.summary` is auto,
 *   concise or detailed (no summary otherwise), and it carries `encrypted_content` when `include`
 *   lists "reasoning.encrypted_content".
 * - Tool calls: when the request has function tools and the last user text says `call NAME` for
 *   one of them, one function_call item per such mention, in order; `call NAME with {…}` sets the
 *   arguments to the rest of that line (one call per line for that form), else `{}`.
 * - Otherwise one assistant message, phase "final_answer", text `answer(lastUserText)`.
 */

export type Answer = (userText: string, body: Json) => string

export const defaultCodexAnswer: Answer = (userText) => `Codex answer to: ${userText}`

const CALL = /\bcall ([A-Za-z_][\w.-]*)(?: with (\{[^\n]*\}))?/g

function textOf(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .map((p: unknown) =>
      isRecord(p) && (p.type === 'input_text' || p.type === 'text') && typeof p.text === 'string' ? p.text : '',
    )
    .join('')
}

/** The text of the last `user` message among the input items. */
export function lastUserText(body: Json): string {
  const input = Array.isArray(body.input) ? body.input : []
  for (let i = input.length - 1; i >= 0; i--) {
    const item: unknown = input[i]
    if (isRecord(item) && (item.type === 'message' || item.type === undefined) && item.role === 'user')
      return textOf(item.content)
  }
  return ''
}

function functionNames(body: Json): Set<string> {
  const tools = Array.isArray(body.tools) ? body.tools : []
  return new Set(
    tools
      .filter((t: unknown) => isRecord(t) && t.type === 'function' && typeof t.name === 'string')
      .map((t) => (t as Json).name as string),
  )
}

function reasoningItem(body: Json, userText: string): CodexOutput | undefined {
  const r = body.reasoning
  if (!isRecord(r) || r.effort === 'none') return undefined
  const summary = ['auto', 'concise', 'detailed'].includes(String(r.summary)) ? [`Thinking about: ${userText}`] : []
  const include = Array.isArray(body.include) ? body.include : []
  const encrypted = include.includes('reasoning.encrypted_content')
    ? {encryptedContent: `gAAAAAB${randomBytes(48).toString('base64')}`}
    : {}
  return {type: 'reasoning', summary, ...encrypted}
}

export function defaultTurn(body: Json, answer: Answer): CodexOutput[] {
  const userText = lastUserText(body)
  const out: CodexOutput[] = []
  const reasoning = reasoningItem(body, userText)
  if (reasoning) out.push(reasoning)
  const names = functionNames(body)
  const calls: CodexOutput[] = []
  for (const match of userText.matchAll(CALL)) {
    if (names.has(match[1])) calls.push({type: 'function_call', name: match[1], arguments: match[2] ?? '{}'})
  }
  if (calls.length > 0) return [...out, ...calls]
  out.push({type: 'message', text: answer(userText, body), phase: 'final_answer'})
  return out
}

const tokens = (text: string) => Math.ceil(text.length / 4)

/** Rough, deterministic counts: about four characters a token. */
export function estimateUsage(body: Json, output: CodexOutput[], cached: number): TurnUsage {
  const input = Math.max(1, tokens(JSON.stringify([body.instructions, body.input, body.tools ?? []])))
  let visible = 0
  let reasoning = 0
  for (const item of output) {
    if (item.type === 'message') visible += tokens(item.text)
    else if (item.type === 'function_call') visible += tokens(item.name + item.arguments)
    else reasoning += 16 + tokens(item.summary.join(''))
  }
  return {input, cached: Math.min(cached, input), output: visible + reasoning, reasoning}
}
