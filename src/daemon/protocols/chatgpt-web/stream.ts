import {randomId} from '../../../core/random-id.js'

import type {ChatChunk, ChatDelta, ChatFinishReason} from '../chat/types.js'
import {WebInBandError, WebNoAnswerError} from './errors.js'
import {stripCitations} from './marks.js'
import {CONTENT_PATH, type MessageEntry, applyOp, finishOfMessage, kindOf, textOf, thoughtsOf} from './messages.js'
import {Emitter} from './emitter.js'
import type {WebEvent, WebMessage, WebPatchOp} from './types.js'

export {WebInBandError, WebNoAnswerError, WebStreamError} from './errors.js'
export {stripCitations} from './marks.js'

/**
 * ChatGPT web SSE events → chat completion chunks. Both stream formats feed one model: the
 * messages of the stream, each with its raw text so far —
 * - cumulative snapshots (`message`, or `v.message`) carry a message's whole text;
 * - patch events change the message named last: a bare `{"v": "…"}` appends to the path the
 *   last top-level `p` named (ops nested in a batch never change that path).
 * Only this turn's answer is relayed. The backend first re-sends earlier messages of the
 * conversation, already finished; the answer is the assistant messages that begin after that
 * (in progress, or after the `input_message` event). Thinking (thoughts, analysis and
 * commentary channels) is never content; with the `reasoning` option it goes out as
 * `reasoning_content`. After every event the answer is cleaned of marks (marks.ts) and
 * compared with what was sent; the new part is the delta.
 */

export type WebStreamOptions = {
  /** relay thinking as `delta.reasoning_content` (default: drop it) */
  reasoning?: boolean
}

export type WebStreamState = {
  readonly id: string
  readonly created: number
  readonly model: string
  readonly reasoning: boolean
  /** id of the latest message of this turn's answer; undefined until the answer begins */
  messageId: string | undefined
  /** the message patch events apply to */
  current: string | undefined
  /** every message of the stream, in the order they began */
  readonly messages: Map<string, MessageEntry>
  /** message id by its index in the conversation (`c`) */
  readonly byIndex: Map<number, string>
  /** this turn's messages have begun: a finished message now is no echo */
  turnStarted: boolean
  /** the backend announced that the answer continues on a websocket */
  handoff: boolean
  /** moderation blocked the answer */
  blocked: boolean
  /** path a bare `v` applies to */
  path: string
  readonly content: Emitter
  readonly thinking: Emitter
  roleSent: boolean
  finish: ChatFinishReason | undefined
  ended: boolean
}

export function newWebStreamState(model: string, options: WebStreamOptions = {}): WebStreamState {
  return {
    id: `chatcmpl-${randomId(15, 'base64url')}`,
    created: Math.floor(Date.now() / 1000),
    model,
    reasoning: options.reasoning === true,
    messageId: undefined,
    current: undefined,
    messages: new Map(),
    byIndex: new Map(),
    turnStarted: false,
    handoff: false,
    blocked: false,
    path: CONTENT_PATH,
    content: new Emitter(),
    thinking: new Emitter(),
    roleSent: false,
    finish: undefined,
    ended: false,
  }
}

function finishOf(type: string | undefined): ChatFinishReason {
  if (type === 'max_tokens') return 'length'
  if (type === 'content_filter') return 'content_filter'
  return 'stop'
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function startTurn(state: WebStreamState): void {
  state.turnStarted = true
  for (const entry of state.messages.values()) if (entry.kind === 'held') entry.kind = 'skip'
}

function newEntry(state: WebStreamState, message: WebMessage): MessageEntry {
  const finished = message.status === 'finished_successfully'
  const role = message.author?.role
  if (!finished && role !== 'user' && role !== 'system') startTurn(state)
  let kind = kindOf(message)
  // already finished before anything of this turn began: history the backend echoes
  if (kind !== 'skip' && finished && !state.turnStarted)
    kind = kind === 'answer' && message.end_turn === true ? 'held' : 'skip'
  return {kind, text: '', thoughts: [], finished: false, finishType: undefined}
}

/** A snapshot of a message (cumulative format, or the start of a message in the patch format). */
function takeSnapshot(state: WebStreamState, message: WebMessage, index: unknown): void {
  const id = message.id ?? state.current ?? '(no id)'
  let entry = state.messages.get(id)
  if (!entry) {
    entry = newEntry(state, message)
    state.messages.set(id, entry)
  }

  if (typeof index === 'number') state.byIndex.set(index, id)
  state.current = id
  state.path = CONTENT_PATH
  if (entry.kind === 'skip') return
  entry.text = textOf(message)
  entry.thoughts = thoughtsOf(message)
  const {finished, type} = finishOfMessage(message)
  if (finished) entry.finished = true
  if (type) entry.finishType = type
}

function select(state: WebStreamState, index: unknown): MessageEntry | undefined {
  const named = typeof index === 'number' ? state.byIndex.get(index) : undefined
  if (named !== undefined) state.current = named
  return state.current === undefined ? undefined : state.messages.get(state.current)
}

/** A batch of ops (`"o": "patch"`, or a bare list): each names its own path; the sticky path stays. */
function applyBatch(state: WebStreamState, entry: MessageEntry | undefined, ops: unknown[]): void {
  for (const op of ops) {
    if (!isRecord(op)) continue
    if (op.o === 'patch' && Array.isArray(op.v)) applyBatch(state, entry, op.v)
    else if (entry && entry.kind !== 'skip')
      applyOp(entry, typeof op.p === 'string' && op.p !== '' ? op.p : state.path, op as WebPatchOp)
  }
}

/** The content of a data event that is not a control event. */
function takeContent(state: WebStreamState, event: WebEvent): void {
  if (event.message !== undefined) {
    if (event.message) takeSnapshot(state, event.message, event.c)
    return
  }

  const {v} = event
  if (isRecord(v) && ('message' in v || 'error' in v)) {
    if (v.error !== undefined && v.error !== null) throw new WebInBandError(v.error, v.error_code)
    if (isRecord(v.message)) takeSnapshot(state, v.message as WebMessage, event.c)
    return
  }

  const entry = select(state, event.c)
  if (Array.isArray(v)) {
    applyBatch(state, entry, v)
    return
  }

  if (!('v' in event)) return
  if (typeof event.p === 'string' && event.p !== '') state.path = event.p
  if (event.o === 'patch') return // a patch whose value is no list: nothing to apply
  if (entry && entry.kind !== 'skip') applyOp(entry, state.path, {o: event.o, v})
}

/** After every event: which message is the answer, and whether (how) it finished. */
function refresh(state: WebStreamState): void {
  let last: [string, MessageEntry] | undefined
  for (const item of state.messages) if (item[1].kind === 'answer') last = item
  state.messageId = last?.[0]
  state.finish = state.blocked ? 'content_filter' : last?.[1].finished ? finishOf(last[1].finishType) : undefined
}

function chunk(state: WebStreamState, delta: ChatDelta, finish: ChatFinishReason | null = null): ChatChunk {
  return {
    id: state.id,
    object: 'chat.completion.chunk',
    created: state.created,
    model: state.model,
    choices: [{index: 0, delta, logprobs: null, finish_reason: finish}],
  }
}

/** Clean text of the messages of `kind`; the last one may still hold back a mark unless `final`. */
function cleanText(state: WebStreamState, kind: 'answer' | 'reasoning', final: boolean): string {
  const pieces: string[] = []
  for (const entry of state.messages.values()) {
    if (entry.kind !== kind) continue
    if (kind === 'answer') pieces.push(entry.text)
    else pieces.push(...(entry.thoughts.length > 0 ? entry.thoughts : [entry.text]).filter((t) => t !== ''))
  }

  // thinking steps are paragraphs of their own; answer messages continue one another
  return pieces
    .map((text, i) => stripCitations(text, final || i < pieces.length - 1))
    .join(kind === 'answer' ? '' : '\n\n')
}

/** Compare the clean texts with what was sent; emit the new parts. */
function sync(state: WebStreamState, final: boolean): ChatChunk[] {
  const thinking = state.reasoning ? state.thinking.advance(cleanText(state, 'reasoning', final), final) : ''
  const content = state.content.advance(cleanText(state, 'answer', final), final)
  if (content === '' && thinking === '') return []
  const out: ChatChunk[] = []
  if (!state.roleSent) {
    state.roleSent = true
    out.push(chunk(state, {role: 'assistant', content: ''}))
  }

  if (thinking !== '') out.push(chunk(state, {reasoning_content: thinking}))
  if (content !== '') out.push(chunk(state, {content}))
  return out
}

/** A control event (`type`): the chunks it makes, or undefined when the event is content after all. */
function control(state: WebStreamState, event: WebEvent): ChatChunk[] | undefined {
  switch (event.type) {
    case 'message_stream_complete':
      return endConversation(state)
    case 'moderation':
      if (event.moderation_response?.blocked !== true) return []
      state.blocked = true
      return endConversation(state)
    case 'stream_handoff':
      state.handoff = true
      return []
    case 'input_message':
      startTurn(state)
      return []
    default:
      // titles, markers, server and conversation metadata…: nothing for the client
      return event.type !== undefined && !('v' in event) && !('message' in event) ? [] : undefined
  }
}

/** One parsed web event → zero or more chat chunks. Throws WebInBandError for an error event. */
export function conversationEventToChatChunks(event: WebEvent | string, state: WebStreamState): ChatChunk[] {
  if (state.ended || !isRecord(event)) return [] // e.g. the "v1" delta_encoding preamble
  if (event.error !== undefined && event.error !== null) throw new WebInBandError(event.error, event.error_code)
  const handled = control(state, event)
  if (handled) return handled
  takeContent(state, event)
  refresh(state)
  return sync(state, false)
}

/**
 * The end of the upstream stream (`[DONE]`, `message_stream_complete`, a moderation block):
 * the rest of the text and the finish chunk. Throws WebNoAnswerError when the stream carried
 * no answer to this turn, or the answer moved to a websocket before it finished.
 */
export function endConversation(state: WebStreamState): ChatChunk[] {
  if (state.ended) return []
  state.ended = true
  refresh(state)
  if (!state.blocked) {
    if (state.messageId === undefined) {
      // nothing but an old reply came: it is the answer after all
      const held = [...state.messages.values()].filter((e) => e.kind === 'held').at(-1)
      if (held) held.kind = 'answer'
      refresh(state)
    }

    if (state.messageId === undefined || (state.handoff && state.finish === undefined))
      throw new WebNoAnswerError(state.handoff)
  }

  // a blocked answer gets nothing more, not even a mark held back
  const out = state.blocked ? [] : sync(state, true)
  if (!state.roleSent) {
    state.roleSent = true
    out.push(chunk(state, {role: 'assistant', content: ''}))
  }

  out.push(chunk(state, {}, state.finish ?? 'stop'))
  return out
}
