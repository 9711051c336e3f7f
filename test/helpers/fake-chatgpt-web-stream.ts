import {randomUUID} from 'node:crypto'

/**
 * The answer streams of the fake ChatGPT web backend (fake-chatgpt-web.ts): the cumulative and
 * patch formats, and the shapes today's backend and its proxies add on top — echoed history,
 * control events, mixed patch batches, truncate/replace, thinking messages, marks in the text —
 * plus the endings a fault asks for (a moderation block, an error after some text, a hand-off).
 */

export type WebFormat = 'cumulative' | 'patch'

/**
 * Extra stream shapes (they combine; each keeps the answer text a client should get unchanged):
 * - 'echo': first every message of the request again, already finished (`end_turn` null);
 *   patch: the last user message as an `input_message` event;
 * - 'events': `server_ste_metadata`, `message_marker`, `title_generation`,
 *   `conversation_detail_metadata`, a moderation event that blocks nothing and
 *   `message_stream_complete` (also in the cumulative format) among the answer's events;
 * - 'mixed-batch' (patch only): every second segment comes in an `"o": "patch"` batch whose last
 *   op targets `/message/metadata/content_references`; the next segment is a bare `{"v": …}`;
 * - 'truncate' (patch only): after the first segment a draft tail is appended and cut off with
 *   `truncate` in one batch, then a top-level `truncate` and `replace` that change nothing;
 * - 'thinking': a `thoughts` message, a `reasoning_recap` and an `analysis`-channel message before
 *   the answer, which is on the `final` channel (`THINKING` holds their texts);
 * - 'marks': citations, `\uE200cite…\uE201` groups, `\uE203…\uE204` highlights, `\uE202turn0newsN`
 *   anchors and `\uE206` around the segments, the whole re-cut into 5-character events so marks
 *   are split.
 */
export type WebShape = 'echo' | 'events' | 'mixed-batch' | 'truncate' | 'thinking' | 'marks'

/** Where a citation mark `【n†source】` points. */
export type WebCitation = {url: string; title: string}

/** Raw SSE event: `data` objects are JSON-stringified, strings are sent verbatim after `data: ` (undefined: no data line); optional `event:` line before it. */
export type ScriptedEvent = {data: unknown; event?: string}

/** How an answer ends other than normally: after `after` segments. */
export type Ending =
  | {kind: 'moderation'; after: number}
  | {kind: 'error'; after: number; message: string; code?: string}
  | {kind: 'handoff'}

export type StreamPlan = {
  format: WebFormat
  model: string
  conversationId: string
  /** the conversation request */
  body: Json
  segments: string[]
  shapes: readonly WebShape[]
  citations?: Record<number, WebCitation>
  ending?: Ending
}

/** Texts of the thinking shape: the thoughts, the recap, the analysis-channel message. */
export const THINKING = {
  thoughts: ['Reading the question.', 'Planning a short answer.'],
  recap: 'Thought for 2s',
  analysis: 'The user wants a reply.',
}

type Json = Record<string, unknown>

const CONTENT = '/message/content/parts/0'
const CITATION_MARK = /【(\d+)†(source|来源)】/gu

/** `metadata.citations[]` for the complete marks in `text` whose number is in `targets` (code-point offsets). */
export function citationsOf(text: string, targets: Record<number, WebCitation>): Json[] {
  const out: Json[] = []
  for (const match of text.matchAll(CITATION_MARK)) {
    const n = Number(match[1])
    const target = targets[n]
    if (!target) continue
    const start = Array.from(text.slice(0, match.index ?? 0)).length
    out.push({
      start_ix: start,
      end_ix: start + Array.from(match[0]).length,
      citation_format_type: 'tether_og',
      metadata: {
        type: 'webpage',
        title: target.title,
        url: target.url,
        text: '',
        pub_date: null,
        extra: {cited_message_idx: n, search_result_idx: null, evidence_text: match[2]},
      },
    })
  }
  return out
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function requestMessages(body: Json): Json[] {
  return Array.isArray(body.messages) ? body.messages.filter(isRecord) : []
}

export function lastUserMessage(body: Json): {id: unknown; parts: unknown[]} | undefined {
  const messages = requestMessages(body)
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]
    if (isRecord(m.author) && m.author.role === 'user')
      return {id: m.id, parts: isRecord(m.content) && Array.isArray(m.content.parts) ? m.content.parts : []}
  }
  return undefined
}

/** Marks around every segment (their clean text is the segment), re-cut into 5-character pieces. */
export function markSegments(segments: string[]): string[] {
  const marked = segments
    .map(
      (s, i) =>
        [
          `${s}【${i}†source】`,
          `\uE203${s}\uE204`,
          `${s}\uE200cite\uE202turn0search${i}\uE201`,
          `${s}\uE202turn0news${i}\uE206`,
        ][i % 4],
    )
    .join('')
  const chars = Array.from(marked)
  const out: string[] = []
  for (let i = 0; i < chars.length; i += 5) out.push(chars.slice(i, i + 5).join(''))
  return out
}

/** A stream under construction, in one format, for one conversation. */
class Stream {
  readonly events: ScriptedEvent[] = []
  readonly #time = (Date.now() + 0.123) / 1000 // a float with a fractional part even on a whole millisecond

  constructor(readonly plan: StreamPlan) {}

  has(shape: WebShape): boolean {
    return this.plan.shapes.includes(shape)
  }

  get patch(): boolean {
    return this.plan.format === 'patch'
  }

  data(data: unknown): void {
    this.events.push({data})
  }

  control(type: string, fields: Json = {}): void {
    this.data({type, ...fields, conversation_id: this.plan.conversationId})
  }

  /** A message snapshot: cumulative `{message}`; patch `{"p": "", "o": "add", "v": {message}}` for a message that streams on, else `{"v": {message}}`. */
  snapshot(message: Json, streams = false): void {
    const wrapped = {message, conversation_id: this.plan.conversationId, error: null}
    if (!this.patch) this.data(wrapped)
    else this.data(streams ? {p: '', o: 'add', v: wrapped} : {v: wrapped})
  }

  message(fields: {
    id?: string
    role?: string
    content: Json
    finished: boolean
    channel?: string
    metadata?: Json
  }): Json {
    return {
      id: fields.id ?? randomUUID(),
      author: {role: fields.role ?? 'assistant', name: null, metadata: {}},
      create_time: this.#time,
      update_time: null,
      content: fields.content,
      status: fields.finished ? 'finished_successfully' : 'in_progress',
      end_turn: null,
      weight: 1.0,
      metadata: fields.metadata ?? {message_type: 'next', model_slug: this.plan.model},
      recipient: 'all',
      ...(fields.channel !== undefined && {channel: fields.channel}),
    }
  }

  /** The answer message with `text`; the final one carries finish_details (and citations when asked). */
  answer(id: string, text: string, finished: boolean): Json {
    const metadata: Json = {message_type: 'next', model_slug: this.plan.model}
    if (finished) metadata.finish_details = {type: 'stop', stop: '<|im_end|>'}
    if (this.plan.citations) metadata.citations = citationsOf(text, this.plan.citations)
    const message = this.message({
      id,
      content: {content_type: 'text', parts: [text]},
      finished,
      metadata,
      ...(this.has('thinking') && {channel: 'final'}),
    })
    return finished ? {...message, end_turn: true} : message
  }
}

/** The request's messages again, already finished; without the echo shape only the last user message (cumulative only). */
function echo(s: Stream): void {
  if (!s.has('echo')) {
    if (s.patch) return
    const user = lastUserMessage(s.plan.body)
    const message = s.message({
      id: typeof user?.id === 'string' ? user.id : undefined,
      role: 'user',
      content: {content_type: 'text', parts: user ? user.parts : ['']},
      finished: true,
      metadata: {timestamp_: 'absolute', message_type: null},
    })
    s.snapshot({...message, create_time: (message.create_time as number) - 0.5})
    return
  }

  const messages = requestMessages(s.plan.body)
  messages.forEach((m, i) => {
    const role = isRecord(m.author) ? String(m.author.role) : 'user'
    const message = s.message({
      id: typeof m.id === 'string' ? m.id : undefined,
      role,
      content: isRecord(m.content) ? m.content : {},
      finished: true,
      metadata: {},
    })
    if (s.patch && i === messages.length - 1 && role === 'user') s.control('input_message', {input_message: message})
    else s.snapshot(message)
  })
}

/** The thinking shape: a thoughts message, a recap, an analysis-channel message. */
function thinking(s: Stream): void {
  const thoughts = (n: number) => ({
    content_type: 'thoughts',
    thoughts: THINKING.thoughts.slice(0, n).map((content, i) => ({summary: `Step ${i + 1}`, content})),
  })
  const id = randomUUID()
  if (s.patch) {
    s.snapshot(s.message({id, content: thoughts(0), finished: false, channel: 'analysis'}), true)
    s.data({p: '/message/content/thoughts', o: 'append', v: [{summary: 'Step 1', content: '', finished: false}]})
    s.data({p: '/message/content/thoughts/0/content', o: 'append', v: THINKING.thoughts[0]})
    s.data({
      o: 'patch',
      v: [
        {
          p: '/message/content/thoughts',
          o: 'append',
          v: [{summary: 'Step 2', content: THINKING.thoughts[1], finished: true}],
        },
        {p: '/message/status', o: 'replace', v: 'finished_successfully'},
      ],
    })
  } else {
    s.snapshot(s.message({id, content: thoughts(1), finished: false, channel: 'analysis'}))
    s.snapshot(s.message({id, content: thoughts(2), finished: true, channel: 'analysis'}))
  }

  s.snapshot(s.message({content: {content_type: 'reasoning_recap', content: THINKING.recap}, finished: true}))
  const analysis = randomUUID()
  if (s.patch) {
    s.snapshot(
      s.message({id: analysis, content: {content_type: 'text', parts: ['']}, finished: false, channel: 'analysis'}),
      true,
    )
    s.data({p: CONTENT, o: 'append', v: THINKING.analysis})
    s.data({p: '/message/status', o: 'replace', v: 'finished_successfully'})
  } else {
    s.snapshot(
      s.message({
        id: analysis,
        content: {content_type: 'text', parts: [THINKING.analysis]},
        finished: true,
        channel: 'analysis',
      }),
    )
  }
}

/** A moderation block or an in-band error (the latter ends the stream: true). */
function ending(s: Stream, id: string): boolean {
  const end = s.plan.ending
  if (end?.kind === 'moderation') {
    s.control('moderation', {
      moderation_response: {flagged: true, blocked: true, moderation_id: 'modr-fake'},
      message_id: id,
    })
    return false
  }

  if (end?.kind !== 'error') return false
  const error = {
    message: null,
    conversation_id: s.plan.conversationId,
    error: end.message,
    ...(end.code !== undefined && {error_code: end.code}),
  }
  s.data(s.patch ? {v: error} : error)
  return true
}

/** The events shape: control events among the answer's (after segment `i`). */
function interleave(s: Stream, i: number, count: number): void {
  if (!s.has('events')) return
  if (i === 0) s.control('title_generation', {title: 'Fake title'})
  if (i === Math.floor(count / 2))
    s.control('conversation_detail_metadata', {
      banner_info: null,
      blocked_features: [],
      model_limits: [],
      default_model_slug: 'auto',
    })
}

/** The answer's segments as events; false when an error ended the stream. */
function segments(s: Stream, id: string, pieces: string[]): {text: string; open: boolean} {
  const stopAt = s.plan.ending && s.plan.ending.kind !== 'handoff' ? Math.min(s.plan.ending.after, pieces.length) : -1
  let text = ''
  // patch: the last segment goes in the final batch
  const streamed = s.patch ? pieces.slice(0, -1) : pieces
  for (const [i, piece] of streamed.entries()) {
    if (i === stopAt && ending(s, id)) return {text, open: false}
    text += piece
    if (!s.patch) s.snapshot(s.answer(id, text, false))
    else if (s.has('mixed-batch') && i % 2 === 1)
      s.data({
        o: 'patch',
        v: [
          {p: CONTENT, o: 'append', v: piece},
          {
            p: '/message/metadata/content_references',
            o: 'append',
            v: [
              {matched_text: ' ', start_idx: text.length, end_idx: text.length, type: 'sources_footnote', sources: []},
            ],
          },
        ],
      })
    else s.data(i === 0 ? {p: CONTENT, o: 'append', v: piece} : {v: piece})
    if (s.patch && i === 0 && s.has('truncate')) {
      // a draft tail cut off again in the same batch, so no client ever sees it whatever the text around it
      s.data({
        o: 'patch',
        v: [
          {p: CONTENT, o: 'append', v: ' (draft)'},
          {p: CONTENT, o: 'truncate', v: text.length},
        ],
      })
      s.data({p: CONTENT, o: 'truncate', v: text.length})
      s.data({p: CONTENT, o: 'replace', v: text})
    }

    interleave(s, i, pieces.length)
  }

  if (stopAt >= streamed.length && ending(s, id)) return {text, open: false}
  return {text, open: true}
}

function answer(s: Stream): void {
  const pieces = s.has('marks') ? markSegments(s.plan.segments) : s.plan.segments
  const id = randomUUID()
  if (s.patch) {
    s.snapshot(s.answer(id, '', false), true)
    if (s.has('events')) s.control('message_marker', {message_id: id, marker: 'user_visible_token', event: 'first'})
  }

  const {text, open} = segments(s, id, pieces)
  if (!open) return
  if (s.patch) {
    const last = pieces.length > 0 ? pieces[pieces.length - 1] : ''
    const metadata: Json = {finish_details: {type: 'stop'}}
    if (s.plan.citations) metadata.citations = citationsOf(text + last, s.plan.citations)
    s.data({
      o: 'patch',
      v: [
        {p: CONTENT, o: 'append', v: last},
        {p: '/message/status', o: 'replace', v: 'finished_successfully'},
        {p: '/message/metadata', o: 'append', v: metadata},
      ],
    })
  } else {
    const final = s.answer(id, text, true)
    s.snapshot(final)
    s.snapshot(structuredClone(final))
  }

  if (s.has('events'))
    s.control('moderation', {
      moderation_response: {flagged: false, blocked: false, moderation_id: 'modr-fake'},
      message_id: id,
    })
  if (s.patch || s.has('events')) s.control('message_stream_complete')
  if (s.has('events'))
    s.control('conversation_detail_metadata', {
      banner_info: null,
      blocked_features: [],
      model_limits: [],
      default_model_slug: 'auto',
    })
}

/** The events of one answer (the fake adds `[DONE]`). */
export function answerEvents(plan: StreamPlan): ScriptedEvent[] {
  const s = new Stream(plan)
  if (s.patch) s.events.push({event: 'delta_encoding', data: '"v1"'})
  echo(s)
  if (plan.ending?.kind === 'handoff') {
    s.control('stream_handoff', {
      options: [{type: 'subscribe_ws_topic', topic_id: `conversation-turn-${plan.conversationId}`}],
    })
    return s.events
  }

  if (s.has('events'))
    s.control('server_ste_metadata', {
      metadata: {conduit_prewarmed: true, warmup_state: 'warm', model_slug: plan.model},
    })
  if (s.has('thinking')) thinking(s)
  answer(s)
  return s.events
}

/** SSE text (a transcript such as those in test/fixtures/chatgpt-web/) → scripted events, data verbatim. */
export function sseEvents(text: string): ScriptedEvent[] {
  const out: ScriptedEvent[] = []
  for (const block of text.replace(/\r\n?/g, '\n').split(/\n\n+/)) {
    let event: string | undefined
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim()
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
    }

    if (event !== undefined || data.length > 0)
      out.push({...(event !== undefined && {event}), data: data.length > 0 ? data.join('\n') : undefined})
  }

  return out
}
