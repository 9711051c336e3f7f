import {randomBytes} from 'node:crypto'

import type {ChatChunk, ChatFinishReason} from '../chat/types.js'
import type {WebEvent, WebMessage, WebPatchOp} from './types.js'

/**
 * ChatGPT web SSE events → chat completion chunks (protocols.md §5.4, §9 item 11).
 * Both stream formats end up in one place: the assistant message's raw text so far.
 * - (a) cumulative snapshots carry the whole text: it replaces the raw text;
 * - (c) patch/delta events append to it (`/message/content/parts/0`).
 * After every event the raw text is cleaned of citation marks (`【3†source】`, also when a
 * mark is still arriving: a trailing partial mark is held back) and compared with what was
 * already sent; the new suffix is the delta. Messages not for the user — other roles,
 * `recipient` other than "all" (tool calls), other content types — are skipped; the
 * repeated final snapshot adds nothing because its text adds nothing.
 */

export class WebStreamError extends Error {
  readonly code = 'WEB_STREAM_ERROR'
}

export type WebStreamState = {
  readonly id: string
  readonly created: number
  readonly model: string
  /** id of the message the events are about, undefined before the first */
  messageId: string | undefined
  /** whether the current message is one to relay */
  relaying: boolean
  /** raw text of each user-facing message of this answer, in the order they began */
  texts: Map<string, string>
  /** clean text sent so far */
  emitted: string
  /** path a bare string `v` appends to (patch format) */
  path: string | undefined
  roleSent: boolean
  finish: ChatFinishReason | undefined
  ended: boolean
}

export function newWebStreamState(model: string): WebStreamState {
  return {
    id: `chatcmpl-${randomBytes(15).toString('base64url')}`,
    created: Math.floor(Date.now() / 1000),
    model,
    messageId: undefined,
    relaying: false,
    texts: new Map(),
    emitted: '',
    path: undefined,
    roleSent: false,
    finish: undefined,
    ended: false,
  }
}

/** `【3†source】`, `【12:0†来源】`…, and the private-use `cite` markers of newer answers. */
const MARKS = /【[^【】\n]{0,40}†[^【】\n]{0,40}】|\uE200[^\uE200\uE201]{0,80}\uE201/g
const HOLD = 48

/** Text without citation marks; unless `final`, a mark that may still be arriving at the end is held back. */
export function stripCitations(text: string, final: boolean): string {
  let clean = text.replace(MARKS, '')
  if (final) return clean
  for (const open of ['【', '\uE200']) {
    const at = clean.lastIndexOf(open)
    const close = open === '【' ? '】' : '\uE201'
    if (at !== -1 && !clean.includes(close, at) && clean.length - at <= HOLD && !clean.includes('\n', at)) clean = clean.slice(0, at)
  }

  return clean
}

function finishOf(type: string | undefined): ChatFinishReason {
  if (type === 'max_tokens') return 'length'
  if (type === 'content_filter') return 'content_filter'
  return 'stop'
}

function isForUser(message: WebMessage): boolean {
  if (message.author?.role !== 'assistant') return false
  if (message.recipient !== undefined && message.recipient !== 'all') return false
  const kind = message.metadata?.message_type
  if (kind !== undefined && kind !== 'next' && kind !== 'continue' && kind !== 'variant') return false
  const type = message.content?.content_type
  return type === undefined || type === 'text'
}

function textOf(message: WebMessage): string {
  return (message.content?.parts ?? []).filter((p): p is string => typeof p === 'string').join('')
}

/** A snapshot of a message (cumulative format, or the `add` of the patch format). */
function takeMessage(state: WebStreamState, message: WebMessage): void {
  state.messageId = message.id ?? state.messageId ?? '(no id)'
  state.relaying = isForUser(message)
  if (!state.relaying) return
  state.texts.set(state.messageId, textOf(message))
  const details = message.metadata?.finish_details
  if (details?.type || message.status === 'finished_successfully' || message.end_turn === true) state.finish = finishOf(details?.type ?? undefined)
}

function applyOp(state: WebStreamState, op: WebPatchOp): void {
  if (op.p !== undefined && op.p !== '') state.path = op.p
  // a bare string appends to the last path named, the message text unless another was
  const path = op.p === undefined ? (state.path ?? '/message/content/parts/0') : op.p
  if (!state.relaying || state.messageId === undefined) return
  if (path === '/message/content/parts/0' && typeof op.v === 'string') {
    const raw = state.texts.get(state.messageId) ?? ''
    state.texts.set(state.messageId, op.o === 'replace' ? op.v : raw + op.v)
  } else if (path === '/message/status' && op.v === 'finished_successfully') {
    state.finish ??= 'stop'
  } else if (path === '/message/metadata' && typeof op.v === 'object' && op.v !== null) {
    const type = (op.v as {finish_details?: {type?: string}}).finish_details?.type
    if (type) state.finish = finishOf(type)
  }
}

function chunk(state: WebStreamState, delta: ChatChunk['choices'][number]['delta'], finish: ChatFinishReason | null = null): ChatChunk {
  return {id: state.id, object: 'chat.completion.chunk', created: state.created, model: state.model, choices: [{index: 0, delta, logprobs: null, finish_reason: finish}]}
}

/** Compare the clean text with what was sent; emit the new part. */
function sync(state: WebStreamState, final: boolean): ChatChunk[] {
  let full = ''
  for (const [id, raw] of state.texts) full += stripCitations(raw, final || id !== state.messageId)
  if (full.length <= state.emitted.length) return []
  // normally `full` extends what was sent; after a rewrite of earlier text, carry on from the same length
  const delta = full.slice(state.emitted.length)
  state.emitted = full
  const out: ChatChunk[] = []
  if (!state.roleSent) {
    state.roleSent = true
    out.push(chunk(state, {role: 'assistant', content: ''}))
  }

  out.push(chunk(state, {content: delta}))
  return out
}

/** One parsed web event → zero or more chat chunks. Throws WebStreamError for an error event. */
export function conversationEventToChatChunks(event: WebEvent | string, state: WebStreamState): ChatChunk[] {
  if (state.ended || typeof event !== 'object' || event === null) return [] // e.g. the "v1" delta_encoding preamble
  if (event.error !== undefined && event.error !== null) {
    const message = typeof event.error === 'string' ? event.error : JSON.stringify(event.error)
    throw new WebStreamError(`the ChatGPT backend reported an error: ${message.slice(0, 300)}`)
  }

  if (event.type === 'message_stream_complete') return endConversation(state)
  if (event.message) takeMessage(state, event.message)
  else if (typeof event.v === 'object' && event.v !== null && !Array.isArray(event.v) && 'message' in event.v) {
    state.path = undefined
    takeMessage(state, (event.v as {message: WebMessage}).message)
  }
  else if (Array.isArray(event.v)) for (const op of event.v as WebPatchOp[]) applyOp(state, op)
  else if ('v' in event) applyOp(state, {p: event.p, o: event.o, v: event.v})
  return sync(state, false)
}

/** The end of the upstream stream (`[DONE]` or `message_stream_complete`): the rest of the text and the finish chunk. */
export function endConversation(state: WebStreamState): ChatChunk[] {
  if (state.ended) return []
  const out = sync(state, true)
  state.ended = true
  if (!state.roleSent) {
    state.roleSent = true
    out.push(chunk(state, {role: 'assistant', content: ''}))
  }

  out.push(chunk(state, {}, state.finish ?? 'stop'))
  return out
}
