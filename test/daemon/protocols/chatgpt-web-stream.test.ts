import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'

import type {ChatChunk} from '../../../src/daemon/protocols/chat/types.js'
import {Emitter} from '../../../src/daemon/protocols/chatgpt-web/emitter.js'
import {
  WebInBandError,
  WebNoAnswerError,
  conversationEventToChatChunks,
  endConversation,
  newWebStreamState,
  stripCitations,
} from '../../../src/daemon/protocols/chatgpt-web/stream.js'
import type {WebEvent, WebMessage} from '../../../src/daemon/protocols/chatgpt-web/types.js'

const message = (id: string, text: string, extra: Partial<WebMessage> = {}): WebMessage => ({
  id,
  author: {role: 'assistant'},
  content: {content_type: 'text', parts: [text]},
  status: 'in_progress',
  end_turn: null,
  recipient: 'all',
  metadata: {message_type: 'next'},
  ...extra,
})
const snap = (id: string, text: string, extra: Partial<WebMessage> = {}): WebEvent => ({
  message: message(id, text, extra),
  conversation_id: 'c',
})
const add = (id: string, extra: Partial<WebMessage> = {}, c?: number): WebEvent => ({
  p: '',
  o: 'add',
  v: {message: message(id, '', extra), conversation_id: 'c'},
  ...(c !== undefined && {c}),
})
const done = {
  status: 'finished_successfully',
  end_turn: true,
  metadata: {message_type: 'next', finish_details: {type: 'stop'}},
} as const

/** Events in, then the end; the content deltas, the finish reason, or the error thrown. */
function run(events: Array<WebEvent | string>): {deltas: string[]; finish: string | null; error?: unknown} {
  const state = newWebStreamState('gpt-4o')
  const chunks: ChatChunk[] = []
  try {
    for (const e of events) chunks.push(...conversationEventToChatChunks(e, state))
    chunks.push(...endConversation(state))
  } catch (error) {
    return {deltas: chunks.map((c) => c.choices[0].delta.content ?? ''), finish: null, error}
  }

  return {
    deltas: chunks.map((c) => c.choices[0].delta.content ?? '').filter((t) => t !== ''),
    finish: chunks.at(-1)!.choices[0].finish_reason,
  }
}

describe('which messages are the answer', () => {
  it('an old reply re-sent finished with end_turn true is held back, and dropped once this turn begins', () => {
    const old = snap('old', 'Nice to meet you, Ada.', done)
    assert.deepEqual(run([old, snap('new', 'Ada.'), snap('new', 'Ada.', done)]), {deltas: ['Ada.'], finish: 'stop'})
    assert.deepEqual(
      run([old, {type: 'input_message'}, add('new'), {p: '/message/content/parts/0', o: 'append', v: 'Ada.'}]),
      {deltas: ['Ada.'], finish: 'stop'},
    )
    assert.deepEqual(
      run([old]),
      {deltas: ['Nice to meet you, Ada.'], finish: 'stop'},
      'nothing else came: it was the answer (a proxy that sends one finished snapshot)',
    )
  })

  it('a stream with nothing but history is no answer: a retryable WebNoAnswerError', () => {
    const {error} = run([
      snap('sys', 'Be brief', {author: {role: 'system'}, status: 'finished_successfully'}),
      snap('old', 'Hello', {status: 'finished_successfully'}),
      '[DONE]',
    ])
    assert.ok(error instanceof WebNoAnswerError)
    assert.deepEqual([error.code, error.retryable, error.handoff], ['web_no_answer', true, false])
  })

  it('a hand-off after the answer began: an error unless the answer finished', () => {
    const begun = run([
      add('a'),
      {p: '/message/content/parts/0', o: 'append', v: 'Once upon'},
      {type: 'stream_handoff', options: []},
    ])
    assert.deepEqual(begun.deltas, ['', 'Once upon'])
    assert.ok(begun.error instanceof WebNoAnswerError && begun.error.code === 'web_stream_handoff')
    assert.deepEqual(
      run([
        add('a'),
        {type: 'stream_handoff'},
        {p: '/message/content/parts/0', o: 'append', v: 'All here'},
        {p: '/message/status', o: 'replace', v: 'finished_successfully'},
      ]),
      {deltas: ['All here'], finish: 'stop'},
    )
  })

  it('an error wrapped in v before any text: WebInBandError (no TypeError on the null message)', () => {
    const {error, deltas} = run([
      {
        v: {
          message: null,
          conversation_id: 'c',
          error: 'Too many requests in 1 hour.',
          error_code: 'rate_limit_exceeded',
        },
      },
    ])
    assert.deepEqual(deltas, [])
    assert.ok(error instanceof WebInBandError)
    assert.deepEqual([error.upstreamCode, error.retryable], ['rate_limit_exceeded', true])
    const tooLong = run([
      {message: null, error: 'The message you submitted was too long.', error_code: 'message_length_exceeds_limit'},
    ]).error
    assert.ok(tooLong instanceof WebInBandError && tooLong.retryable === false, 'another token would fail the same way')
  })

  it('ops carrying `c` apply to the message with that index; nested patch batches apply too', () => {
    assert.deepEqual(
      run([
        add('a', {}, 4),
        add('t', {recipient: 'web.run'}, 5),
        {p: '/message/content/parts/0', o: 'append', v: 'search(x)'},
        {p: '/message/content/parts/0', o: 'append', v: 'Found', c: 4},
        {
          o: 'patch',
          v: [
            {o: 'patch', v: [{p: '/message/content/parts/0', o: 'append', v: ' it'}]},
            {p: '/message/metadata/finish_details', o: 'replace', v: {type: 'max_tokens'}},
          ],
        },
      ]),
      {deltas: ['Found', ' it'], finish: 'length'},
    )
  })

  it('a moderation event that blocks nothing changes nothing; a block before any text is an empty content_filter answer', () => {
    assert.deepEqual(
      run([
        add('a'),
        {v: 'Hi', p: '/message/content/parts/0'},
        {type: 'moderation', moderation_response: {flagged: true, blocked: false}},
        {v: '!'},
      ]),
      {deltas: ['Hi', '!'], finish: 'stop'},
    )
    assert.deepEqual(
      run([{type: 'moderation', moderation_response: {flagged: true, blocked: true}}, add('a'), {v: 'late'}]),
      {deltas: [], finish: 'content_filter'},
    )
  })
})

describe('rewritten text', () => {
  it('waits until the new text is longer than what was sent, then sends all of it from where it differed', () => {
    const emitter = new Emitter()
    assert.deepEqual(
      [
        'Hello world and more',
        'Hello world',
        'Hello world again',
        'Hello world again and on',
        'Hello world again and on!',
      ].map((t) => emitter.advance(t)),
      ['Hello world and more', '', '', ' again and on', '!'],
    )
    const back = new Emitter()
    assert.deepEqual(
      ['abc', '', 'abc', 'abcd'].map((t) => back.advance(t)),
      ['abc', '', '', 'd'],
      'a text that shrank and came back sends nothing twice',
    )
    const end = new Emitter()
    assert.deepEqual(
      [end.advance('abcdef'), end.advance('abX'), end.advance('abX', true), end.advance('ab', true)],
      ['abcdef', '', 'X', ''],
      'at the end, the rest is sent even when shorter',
    )
  })

  it('truncate counts UTF-16 code units and never leaves half a surrogate pair', () => {
    const truncate = (v: number): WebEvent => ({p: '/message/content/parts/0', o: 'truncate', v})
    assert.deepEqual(
      run([add('a'), {p: '/message/content/parts/0', o: 'append', v: 'ok 😀'}, truncate(4), {v: 'and then some more'}]),
      {deltas: ['ok 😀', 'and then some more'], finish: 'stop'},
    )
    assert.deepEqual(
      run([add('a'), {p: '/message/content/parts/0', o: 'append', v: 'ok 😀'}, truncate(4), {v: '!'}]),
      {deltas: ['ok 😀', '!'], finish: 'stop'},
      'sent at the end',
    )
  })
})

describe('marks', () => {
  it('renders entity and url groups, drops other groups, anchors and highlight marks', () => {
    assert.equal(
      stripCitations(
        'See \uE200entity\uE202["people","Ada Lovelace","mathematician"]\uE201 and \uE200entity\uE202Invincible\uE201.',
        true,
      ),
      'See Ada Lovelace and Invincible.',
    )
    assert.equal(
      stripCitations(
        'Docs: \uE200url\uE202the manual\uE202https://example.org/m\uE201\uE200i\uE202turn0image1\uE201',
        true,
      ),
      'Docs: [the manual](https://example.org/m)',
    )
    assert.equal(
      stripCitations('A \uE203key point\uE204\uE202turn0search3\uE202turn1news0 here\uE206.', true),
      'A key point here.',
    )
  })

  it('holds back what may still become a mark; at the end an unfinished group or anchor is dropped, an unfinished 【 kept', () => {
    assert.equal(stripCitations('x \uE200cite\uE202turn0', false), 'x ')
    assert.equal(stripCitations('x \uE200cite\uE202turn0', true), 'x ')
    assert.equal(stripCitations('x \uE202turn0search1', false), 'x ', 'more digits may follow')
    assert.equal(stripCitations('x \uE202tur', false), 'x ')
    assert.equal(stripCitations('x \uE202turtle', false), 'x turtle', 'no anchor after all')
    assert.equal(stripCitations('x 【1†', false), 'x ')
    assert.equal(stripCitations('x 【1†', true), 'x 【1†')
    assert.equal(stripCitations('x \uE200cite\nnext', false), 'x cite\nnext', 'a line break: no group')
  })

  it('an unclosed group followed by another group is a stray mark: streamed or not, the text between stays', () => {
    const answer = '\uE200word \uE200word \uE201'
    assert.equal(stripCitations(answer, true), 'word ')
    assert.deepEqual(run([snap('a', '\uE200word \uE200'), snap('a', answer)]).deltas, ['word '])
  })

  it('property: streamed in any pieces, the deltas add up to the final clean text', () => {
    const alphabet = [
      'word ',
      'é',
      '😀',
      '\n',
      '【',
      '】',
      '†',
      '【1†source】',
      '\uE200',
      '\uE201',
      '\uE202',
      '\uE203',
      '\uE204',
      '\uE206',
      'cite',
      'turn0search1',
      'entity',
      '["p","Ada"]',
      'x',
    ]
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...alphabet), {maxLength: 30}),
        fc.array(fc.nat(), {maxLength: 10}),
        fc.boolean(),
        (parts, cuts, patch) => {
          const answer = parts.join('')
          const points = [...new Set(cuts.map((c) => c % (answer.length + 1)))].sort((a, b) => a - b)
          const segments = [...points, answer.length].map((p, i, all) => answer.slice(i === 0 ? 0 : all[i - 1], p))
          const events: WebEvent[] = patch
            ? [add('a'), ...segments.map((v) => ({v}))]
            : segments.map((_, i) => snap('a', segments.slice(0, i + 1).join('')))
          assert.equal(run(events).deltas.join(''), stripCitations(answer, true))
        },
      ),
      {numRuns: 500},
    )
  })
})
