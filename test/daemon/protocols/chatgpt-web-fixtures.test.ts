import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {describe, it} from 'node:test'

import {chatChunksToCompletion} from '../../../src/daemon/protocols/chat/aggregate.js'
import type {ChatChunk, ChatDelta} from '../../../src/daemon/protocols/chat/types.js'
import {
  WebInBandError,
  WebNoAnswerError,
  WebStreamError,
  type WebStreamOptions,
  conversationEventToChatChunks,
  endConversation,
  newWebStreamState,
} from '../../../src/daemon/protocols/chatgpt-web/stream.js'
import type {WebEvent} from '../../../src/daemon/protocols/chatgpt-web/types.js'
import {DONE, SseParser} from '../../../src/daemon/sse.js'
import {assertSchema} from '../../helpers/openapi.js'

const FIXTURES = new URL('../../fixtures/chatgpt-web/', import.meta.url)

type Replay = {
  chunks: ChatChunk[]
  deltas: ChatDelta[]
  text: string
  reasoning: string
  finish: string | null
  error?: unknown
}

/** A transcript through the converter the way the adapter feeds it: SSE parsed, JSON data converted, `[DONE]` ends. */
function replay(name: string, options: WebStreamOptions = {}): Replay {
  const parser = new SseParser()
  const events = [...parser.push(readFileSync(new URL(name, FIXTURES))), ...parser.end()]
  const state = newWebStreamState('gpt-4o', options)
  const chunks: ChatChunk[] = []
  let error: unknown
  try {
    for (const event of events) {
      if (event.data === DONE) {
        chunks.push(...endConversation(state))
        continue
      }

      chunks.push(...conversationEventToChatChunks(JSON.parse(event.data) as WebEvent | string, state))
    }

    chunks.push(...endConversation(state))
  } catch (e) {
    error = e
  }

  for (const c of chunks) assertSchema('CreateChatCompletionStreamResponse', c)
  const deltas = chunks.map((c) => c.choices[0].delta)
  const last = chunks.at(-1)?.choices[0].finish_reason ?? null
  return {
    chunks,
    deltas,
    text: deltas.map((d) => d.content ?? '').join(''),
    reasoning: deltas.map((d) => d.reasoning_content ?? '').join(''),
    finish: last,
    error,
  }
}

/** The non-stream answer: the same chunks folded. */
function folded(r: Replay): {content: string | null; finish: string | null} {
  const completion = chatChunksToCompletion(r.chunks, {id: 'x', created: 1, model: 'gpt-4o'})
  assertSchema('CreateChatCompletionResponse', {
    ...completion,
    usage: {prompt_tokens: 1, completion_tokens: 1, total_tokens: 2},
  })
  return {content: completion.choices[0].message.content, finish: completion.choices[0].finish_reason}
}

const ROLE: ChatDelta = {role: 'assistant', content: ''}
const text = (...pieces: string[]): ChatDelta[] => pieces.map((content) => ({content}))

/** Exact deltas, finish reason, and the same text folded. */
function expectAnswer(name: string, deltas: ChatDelta[], finish = 'stop'): void {
  const r = replay(name)
  assert.equal(r.error, undefined, `${name}: ${String(r.error)}`)
  assert.deepEqual(r.deltas, deltas, name)
  assert.equal(r.finish, finish, name)
  assert.equal(
    r.chunks.filter((c) => c.choices[0].finish_reason !== null).length,
    1,
    `${name}: one finish chunk, the last`,
  )
  assert.deepEqual(folded(r), {content: r.text, finish}, name)
}

describe('web stream fixtures → chat chunks', () => {
  it('relays only this turn: history the backend echoes first is no part of the answer (both formats)', () => {
    for (const name of ['echo-cumulative.sse', 'echo-patch.sse']) {
      expectAnswer(name, [ROLE, ...text('Your', ' name', ' is Ada.'), {}])
      assert.equal(folded(replay(name)).content, 'Your name is Ada.')
    }
  })

  it('a bare text after a batch whose last op names another path still appends to the text', () => {
    expectAnswer('mixed-batch-patch.sse', [
      ROLE,
      ...text('Rome', ' was founded', ' in 753 BC', ',', ' legend says', '.'),
      {},
    ])
  })

  it('applies truncate and replace to the text (a cut mark never reaches the client)', () => {
    expectAnswer('truncate-replace-patch.sse', [ROLE, ...text('Paris', ' ', 'is the capital', ' of France', '.'), {}])
  })

  it('thinking models: thoughts, the recap and the analysis channel are not the answer (both formats)', () => {
    for (const name of ['thinking-patch.sse', 'thinking-cumulative.sse']) {
      expectAnswer(name, [ROLE, ...text('6 × 7 = ', '**42**.'), {}])
      assert.equal(replay(name).reasoning, '', 'no reasoning without the option')
    }
  })

  it('with the reasoning option, the thinking goes out as reasoning_content, never as content', () => {
    const thinking =
      'Six times seven is forty-two.\n\nDouble-check: 7+7+7+7+7+7 = 42.\n\nThe user wants 6×7. Answer briefly.'
    const patch = replay('thinking-patch.sse', {reasoning: true})
    assert.deepEqual(patch.deltas, [
      ROLE,
      {reasoning_content: 'Six times seven'},
      {reasoning_content: ' is forty-two.'},
      {reasoning_content: '\n\nDouble-check: 7+7+7+7+7+7 = 42.'},
      {reasoning_content: '\n\nThe user wants 6×7.'},
      {reasoning_content: ' Answer briefly.'},
      ...text('6 × 7 = ', '**42**.'),
      {},
    ])
    const cumulative = replay('thinking-cumulative.sse', {reasoning: true})
    for (const r of [patch, cumulative]) {
      assert.equal(r.reasoning, thinking)
      assert.equal(r.text, '6 × 7 = **42**.')
      assert.equal(folded(r).content, '6 × 7 = **42**.')
    }
  })

  it('removes citations, cite groups, highlights, anchors and U+E206, keeps entity names, also when split (both formats)', () => {
    for (const name of ['marks-patch.sse', 'marks-cumulative.sse']) {
      expectAnswer(name, [
        ROLE,
        ...text(
          'Ada Lovelace',
          ' wrote the first published',
          ' program',
          ' for the ',
          'Analytical Engine.',
          ' She worked with Charles Babbage.',
        ),
        {},
      ])
    }
  })

  it('skips input_message, metadata, markers, titles and an unblocking moderation; message_stream_complete ends', () => {
    expectAnswer('control-events-patch.sse', [ROLE, ...text('Hello', ' there', '!'), {}])
  })

  it('moderation blocked: the text sent so far stays, nothing more, finish_reason content_filter', () => {
    expectAnswer('moderation-blocked-patch.sse', [ROLE, ...text('Here is how', ' you'), {}], 'content_filter')
  })

  it('stream_handoff: no answer here, a retryable WebNoAnswerError', () => {
    const r = replay('handoff-patch.sse')
    assert.deepEqual(r.chunks, [])
    assert.ok(r.error instanceof WebNoAnswerError && r.error instanceof WebStreamError)
    assert.deepEqual(
      [r.error.code, r.error.retryable, r.error.handoff, r.error.status],
      ['web_stream_handoff', true, true, 502],
    )
  })

  it('an error event after some text ends the answer with WebInBandError carrying the backend code (both formats)', () => {
    const patch = replay('in-band-error-patch.sse')
    assert.deepEqual(patch.deltas, [ROLE, ...text('The answer', ' is')])
    assert.ok(patch.error instanceof WebInBandError)
    assert.deepEqual(
      [patch.error.code, patch.error.upstreamCode, patch.error.retryable],
      ['web_upstream_error', 'conversation_generation_error', true],
    )
    assert.equal(
      patch.error.message,
      'The ChatGPT backend reported an error: Something went wrong while generating the response. If this issue persists please contact us through our help center at help.openai.com. (conversation_generation_error)',
    )
    const cumulative = replay('in-band-error-cumulative.sse')
    assert.deepEqual(cumulative.deltas, [ROLE, ...text('The answer')])
    assert.ok(cumulative.error instanceof WebInBandError)
    assert.deepEqual([cumulative.error.upstreamCode, cumulative.error.retryable], [null, true])
    assert.match(cumulative.error.message, /^The ChatGPT backend reported an error: Something went wrong\. /)
  })
})
