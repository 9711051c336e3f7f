import {randomBytes} from 'node:crypto'

import {type Json, contentText, isRecord} from './fake-openai-shared.js'

/**
 * Chat tool calls of the fake OpenAI upstream, deterministic: when a request has function
 * tools (and `tool_choice` is not `none`) and its last message is a user message saying
 * `call NAME` — optionally `with {json}` — once or more (`call a with {…} and call b`),
 * the answer is those calls, each with a `call_…` id, in the order named.
 */
export type FakeToolCall = {id: string; name: string; arguments: string}

/** `{…}` starting at `at`, braces balanced (strings respected); undefined when there is none. */
function balanced(text: string, at: number): string | undefined {
  if (text[at] !== '{') return undefined
  let depth = 0
  let inString = false
  for (let i = at; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '{') depth++
    else if (c === '}' && --depth === 0) return text.slice(at, i + 1)
  }

  return undefined
}

export function requestedToolCalls(body: Json): FakeToolCall[] {
  if (body.tool_choice === 'none' || !Array.isArray(body.tools) || !Array.isArray(body.messages)) return []
  const names = body.tools.flatMap((t) =>
    isRecord(t) && t.type === 'function' && isRecord(t.function) && typeof t.function.name === 'string'
      ? [t.function.name]
      : [],
  )
  const last = body.messages.at(-1)
  if (!isRecord(last) || last.role !== 'user') return []
  const text = contentText(last.content)
  const calls: FakeToolCall[] = []
  for (const match of text.matchAll(/\bcall ([A-Za-z0-9_-]+)(\s+with\s+)?/g)) {
    if (!names.includes(match[1])) continue
    const args = match[2] ? balanced(text, match.index + match[0].length) : undefined
    calls.push({id: `call_${randomBytes(12).toString('hex')}`, name: match[1], arguments: args ?? '{}'})
  }

  return calls
}

/** Argument fragments as a streaming upstream sends them: 8 characters at a time. */
export function argumentPieces(args: string): string[] {
  const pieces: string[] = []
  for (let i = 0; i < args.length; i += 8) pieces.push(args.slice(i, i + 8))
  return pieces
}
