import type {WebMessage, WebPatchOp, WebThought} from './types.js'

/**
 * The messages of one web answer stream and what each is to the client.
 * - 'answer': assistant text for the user on the final channel (or none);
 * - 'reasoning': thinking — `thoughts` content, or text on the `analysis` / `commentary`
 *   channels; never content, at most `reasoning_content`;
 * - 'held': arrived already finished with `end_turn: true` before this turn began: an old
 *   reply the backend re-sent, unless nothing else answers (then it is the answer);
 * - 'skip': everything else — other roles, tool calls, recaps, echoed history.
 */
export type MessageKind = 'answer' | 'reasoning' | 'held' | 'skip'

export type MessageEntry = {
  kind: MessageKind
  /** raw text (parts joined) */
  text: string
  /** raw content of each thought */
  thoughts: string[]
  /** the message is complete: status finished, end_turn true or finish_details seen */
  finished: boolean
  /** `finish_details.type` when one came */
  finishType: string | undefined
}

export const CONTENT_PATH = '/message/content/parts/0'
const THOUGHT_PATH = /^\/message\/content\/thoughts\/(\d+)\/content$/
const ANSWER_TYPES = new Set(['next', 'continue', 'variant'])

/** What a message is, judged by itself (the turn rules come on top, in the stream). */
export function kindOf(message: WebMessage): MessageKind {
  if (message.author?.role !== 'assistant') return 'skip'
  if (message.recipient !== undefined && message.recipient !== 'all') return 'skip' // the model calling a tool
  const type = message.metadata?.message_type
  if (type !== undefined && type !== null && !ANSWER_TYPES.has(type)) return 'skip'
  const contentType = message.content?.content_type
  if (contentType === 'thoughts') return 'reasoning'
  if (contentType !== undefined && contentType !== 'text') return 'skip' // reasoning_recap, code, images…
  const channel = message.channel
  return channel === undefined || channel === null || channel === 'final' ? 'answer' : 'reasoning'
}

export function textOf(message: WebMessage): string {
  return (message.content?.parts ?? []).filter((p): p is string => typeof p === 'string').join('')
}

function thoughtText(thought: unknown): string {
  const content = (thought as WebThought | null)?.content
  return typeof content === 'string' ? content : ''
}

export function thoughtsOf(message: WebMessage): string[] {
  return Array.isArray(message.content?.thoughts) ? message.content.thoughts.map(thoughtText) : []
}

/** Whether a snapshot says the message is complete, and its finish type. */
export function finishOfMessage(message: WebMessage): {finished: boolean; type: string | undefined} {
  const type = message.metadata?.finish_details?.type ?? undefined
  return {finished: Boolean(type) || message.status === 'finished_successfully' || message.end_turn === true, type}
}

/** A text op on a string: append, replace/add (set), truncate (to `v` UTF-16 code units, as a JavaScript client applies it). */
function textOp(text: string, o: string, v: unknown): string {
  if (o === 'truncate' && typeof v === 'number' && v >= 0) {
    let cut = text.slice(0, v)
    if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1) // never half a surrogate pair
    return cut
  }

  if (typeof v !== 'string') return text
  if (o === 'append') return text + v
  if (o === 'replace' || o === 'add') return v
  return text
}

function setFinished(entry: MessageEntry, type?: string): void {
  entry.finished = true
  if (type) entry.finishType = type
}

/** One patch op (its path already resolved) applied to a message. */
export function applyOp(entry: MessageEntry, path: string, op: WebPatchOp): void {
  const o = op.o ?? 'append'
  const thought = THOUGHT_PATH.exec(path)
  if (path === CONTENT_PATH) {
    entry.text = textOp(entry.text, o, op.v)
  } else if (thought) {
    const i = Number(thought[1])
    while (entry.thoughts.length <= i) entry.thoughts.push('')
    entry.thoughts[i] = textOp(entry.thoughts[i], o, op.v)
  } else if (path === '/message/content/thoughts' && Array.isArray(op.v)) {
    const added = op.v.map(thoughtText)
    entry.thoughts = o === 'append' ? [...entry.thoughts, ...added] : added
  } else if (path === '/message/content/parts' && Array.isArray(op.v)) {
    const parts = op.v.filter((p): p is string => typeof p === 'string').join('')
    entry.text = o === 'append' ? entry.text + parts : parts
  } else if (path === '/message/content' && typeof op.v === 'object' && op.v !== null) {
    const parts = (op.v as {parts?: unknown}).parts
    if (Array.isArray(parts)) entry.text = parts.filter((p): p is string => typeof p === 'string').join('')
  } else if (path === '/message/status' && op.v === 'finished_successfully') {
    setFinished(entry)
  } else if (path === '/message/end_turn' && op.v === true) {
    setFinished(entry)
  } else if (path === '/message/metadata' && typeof op.v === 'object' && op.v !== null) {
    const type = (op.v as {finish_details?: {type?: unknown} | null}).finish_details?.type
    if (typeof type === 'string' && type) setFinished(entry, type)
  } else if (path === '/message/metadata/finish_details' && typeof op.v === 'object' && op.v !== null) {
    const type = (op.v as {type?: unknown}).type
    if (typeof type === 'string' && type) setFinished(entry, type)
  }
  // everything else (content_references, citations, markers, titles…) is not text
}
