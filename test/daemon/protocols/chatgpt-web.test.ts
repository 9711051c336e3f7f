import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'

import {encodingFor} from '../../../src/core/tokenizer.js'
import {chatChunksToCompletion} from '../../../src/daemon/protocols/chat/aggregate.js'
import {TextLimiter} from '../../../src/daemon/protocols/chat/limits.js'
import type {ChatChunk} from '../../../src/daemon/protocols/chat/types.js'
import {
  chatRequestToConversation,
  webLimitation,
  webModelSlug,
} from '../../../src/daemon/protocols/chatgpt-web/request.js'
import {
  WebStreamError,
  conversationEventToChatChunks,
  endConversation,
  newWebStreamState,
  stripCitations,
} from '../../../src/daemon/protocols/chatgpt-web/stream.js'
import type {WebEvent} from '../../../src/daemon/protocols/chatgpt-web/types.js'
import {assertSchema} from '../../helpers/openapi.js'

const snapshot = (
  id: string,
  text: string,
  extra: {role?: string; recipient?: string; status?: string; finish?: string; type?: string} = {},
): WebEvent => ({
  message: {
    id,
    author: {role: extra.role ?? 'assistant', name: null},
    content: {content_type: extra.type ?? 'text', parts: [text]},
    status: extra.status ?? 'in_progress',
    end_turn: extra.finish ? true : null,
    recipient: extra.recipient ?? 'all',
    metadata: {message_type: 'next', model_slug: 'gpt-4o', ...(extra.finish && {finish_details: {type: extra.finish}})},
  },
  conversation_id: 'c1',
  error: null,
})

/** Run events (and the end) through the converter; return the chunks and the text. */
function convert(events: Array<WebEvent | string>): {chunks: ChatChunk[]; text: string; finish: string | null} {
  const state = newWebStreamState('gpt-4o')
  const chunks = [...events.flatMap((e) => conversationEventToChatChunks(e, state)), ...endConversation(state)]
  for (const c of chunks) {
    assertSchema('CreateChatCompletionStreamResponse', c)
    assert.equal(c.id, state.id)
  }

  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')
  return {chunks, text, finish: chunks.at(-1)!.choices[0].finish_reason}
}

describe('chat request → web conversation', () => {
  it('carries every message with ids and roles, history off, the mapped slug', () => {
    let n = 0
    const body = chatRequestToConversation(
      {
        model: 'gpt-4o',
        messages: [
          {role: 'developer', content: 'Be brief'},
          {
            role: 'user',
            content: [
              {type: 'text', text: 'Hi '},
              {type: 'text', text: 'there'},
            ],
          },
        ],
      },
      'gpt-4o',
      () => `uuid-${n++}`,
    )
    assert.deepEqual(body.messages, [
      {id: 'uuid-0', author: {role: 'system'}, content: {content_type: 'text', parts: ['Be brief']}, metadata: {}},
      {id: 'uuid-1', author: {role: 'user'}, content: {content_type: 'text', parts: ['Hi there']}, metadata: {}},
    ])
    assert.equal(body.parent_message_id, 'uuid-2')
    assert.equal(body.history_and_training_disabled, true)
    assert.equal(body.action, 'next')
    assert.equal(webModelSlug('gpt-3.5-turbo', undefined), 'gpt-4o-mini')
    assert.equal(webModelSlug('gpt-4', {'gpt-4': 'gpt-4o'}), 'gpt-4o')
    assert.equal(webModelSlug('o3', undefined), 'o3')
  })

  it('names what the web cannot do', () => {
    assert.deepEqual(webLimitation({n: 2})?.[0], 'n')
    assert.deepEqual(webLimitation({logprobs: true})?.[0], 'logprobs')
    assert.deepEqual(webLimitation({tools: [{type: 'function'}]})?.[0], 'tools')
    assert.deepEqual(
      webLimitation({messages: [{role: 'user', content: [{type: 'image_url', image_url: {url: 'x'}}]}]})?.[0],
      'messages',
    )
    assert.equal(webLimitation({n: 1, messages: [{role: 'user', content: 'x'}]}), undefined)
  })
})

describe('web stream → chat chunks', () => {
  it('diffs cumulative snapshots; skips the user echo, tool calls and the repeated final message', () => {
    const {chunks, text, finish} = convert([
      snapshot('u1', 'What is 2+2?', {role: 'user'}),
      snapshot('a1', 'Let me'),
      snapshot('t1', 'python: 2+2', {recipient: 'python'}),
      snapshot('t2', '4', {role: 'tool'}),
      snapshot('a1', 'Let me think: it'),
      snapshot('a1', 'Let me think: it is 4.', {status: 'finished_successfully', finish: 'stop'}),
      snapshot('a1', 'Let me think: it is 4.', {status: 'finished_successfully', finish: 'stop'}),
    ])
    assert.equal(text, 'Let me think: it is 4.')
    assert.deepEqual(
      chunks.map((c) => c.choices[0].delta),
      [{role: 'assistant', content: ''}, {content: 'Let me'}, {content: ' think: it'}, {content: ' is 4.'}, {}],
    )
    assert.equal(finish, 'stop')
  })

  it('maps max_tokens to length and concatenates the user-facing messages of one answer', () => {
    const {text, finish} = convert([
      snapshot('a1', 'First part.'),
      snapshot('b1', 'search', {recipient: 'browser'}),
      snapshot('a2', ' Second part', {finish: 'max_tokens', status: 'finished_successfully'}),
    ])
    assert.equal(text, 'First part. Second part')
    assert.equal(finish, 'length')
  })

  it('reads the patch/delta format: add, append, bare strings, patch lists, stream complete', () => {
    const {text, finish} = convert([
      'v1',
      {
        p: '',
        o: 'add',
        v: {
          message: {
            id: 'a1',
            author: {role: 'assistant'},
            content: {content_type: 'text', parts: ['']},
            status: 'in_progress',
            recipient: 'all',
          },
          conversation_id: 'c',
        },
      },
      {p: '/message/content/parts/0', o: 'append', v: '量子'},
      {v: '计算'},
      {v: ' is'},
      {
        o: 'patch',
        v: [
          {p: '/message/content/parts/0', o: 'append', v: ' neat'},
          {p: '/message/status', o: 'replace', v: 'finished_successfully'},
          {p: '/message/metadata', o: 'append', v: {finish_details: {type: 'stop'}}},
        ],
      },
      {v: [{p: '/message/content/parts/0', o: 'append', v: '.'}]},
      {type: 'message_stream_complete', conversation_id: 'c'},
    ])
    assert.equal(text, '量子计算 is neat.')
    assert.equal(finish, 'stop')
  })

  it('ignores patches to a message that is not for the user', () => {
    const {text} = convert([
      {
        p: '',
        o: 'add',
        v: {
          message: {
            id: 't',
            author: {role: 'assistant'},
            content: {content_type: 'code', parts: ['']},
            recipient: 'python',
          },
        },
      },
      {p: '/message/content/parts/0', o: 'append', v: 'print(1)'},
      {
        p: '',
        o: 'add',
        v: {
          message: {
            id: 'a',
            author: {role: 'assistant'},
            content: {content_type: 'text', parts: ['']},
            recipient: 'all',
          },
        },
      },
      {p: '/message/content/parts/0', o: 'append', v: 'Done'},
    ])
    assert.equal(text, 'Done')
  })

  it('removes citation marks, also when one arrives split across events', () => {
    const pieces = ['Paris is the capital', ' of France 【', '3†so', 'urce】. It has', ' 2M people【12:0†来源】.']
    const {text} = convert(pieces.map((_, i) => snapshot('a1', pieces.slice(0, i + 1).join(''))))
    assert.equal(text, 'Paris is the capital of France . It has 2M people.')
    const patch = convert([
      {
        p: '',
        o: 'add',
        v: {
          message: {
            id: 'a',
            author: {role: 'assistant'},
            content: {content_type: 'text', parts: ['']},
            recipient: 'all',
          },
        },
      },
      ...pieces.map((v) => ({v, p: '/message/content/parts/0', o: 'append'})),
    ])
    assert.equal(patch.text, text)
  })

  it('lets a lone 【 that is no citation through', () => {
    assert.equal(stripCitations('a【b', true), 'a【b')
    assert.equal(stripCitations('a【b', false), 'a', 'held back while it may still be a mark')
    assert.equal(stripCitations('a【b\nc', false), 'a【b\nc', 'a line break ends the wait')
    assert.equal(
      convert([snapshot('a', 'x【not a mark'), snapshot('a', 'x【not a mark】 y', {finish: 'stop'})]).text,
      'x【not a mark】 y',
    )
  })

  it('surfaces an error event', () => {
    const state = newWebStreamState('m')
    assert.throws(
      () => conversationEventToChatChunks({message: null, error: 'Something went wrong'}, state),
      (e: unknown) => e instanceof WebStreamError && /Something went wrong/.test(e.message),
    )
  })

  it('property: however the answer is split, the deltas concatenate to the answer without its marks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('word ', '【1†source】', 'é', '😀', '\n', '【', '】', '†', 'x'), {maxLength: 30}),
        fc.array(fc.nat(), {maxLength: 10}),
        fc.boolean(),
        (parts, cuts, patchFormat) => {
          const answer = parts.join('')
          const points = [...new Set(cuts.map((c) => c % (answer.length + 1)))].sort((a, b) => a - b)
          const segments: string[] = []
          let at = 0
          for (const p of [...points, answer.length]) {
            segments.push(answer.slice(at, p))
            at = p
          }

          const events: WebEvent[] = patchFormat
            ? [
                {
                  p: '',
                  o: 'add',
                  v: {
                    message: {
                      id: 'a',
                      author: {role: 'assistant'},
                      content: {content_type: 'text', parts: ['']},
                      recipient: 'all',
                    },
                  },
                },
                ...segments.map((v) => ({v})),
              ]
            : segments.map((_, i) => snapshot('a', segments.slice(0, i + 1).join('')))
          assert.equal(convert(events).text, stripCitations(answer, true))
        },
      ),
      {numRuns: 300},
    )
  })
})

describe('stop and max_tokens emulation', () => {
  it('cuts at a stop sequence split across chunks, and sends nothing of it', () => {
    const limiter = new TextLimiter({stop: ['END', '\n\n']})
    const out: string[] = []
    let finish: string | undefined
    for (const delta of ['Hello wor', 'ld E', 'N', 'D and more']) {
      const r = limiter.push(delta)
      out.push(r.text)
      finish ??= r.finish
    }

    assert.equal(out.join(''), 'Hello world ')
    assert.equal(finish, 'stop')
    assert.equal(limiter.push('ignored').text, '')
  })

  it('releases held-back text at the end when no stop came', () => {
    const limiter = new TextLimiter({stop: 'XYZ'})
    assert.equal(limiter.push('abcXY').text, 'abc')
    assert.deepEqual(limiter.end(), {text: 'XY'})
  })

  it('cuts at max_tokens on a token boundary of the model encoding', async () => {
    const tokenizer = await encodingFor('gpt-4o')
    const answer = 'The quick brown fox jumps over the lazy dog and keeps running far away'
    const limiter = new TextLimiter({maxTokens: 5, tokenizer})
    let text = ''
    let finish: string | undefined
    for (const word of answer.match(/\S+\s*/g)!) {
      const r = limiter.push(word)
      text += r.text
      finish ??= r.finish
      if (finish) break
    }

    assert.equal(finish, 'length')
    assert.equal(text, tokenizer.decode(tokenizer.encode(answer).slice(0, 5)))
    assert.equal(tokenizer.encode(text).length, 5)
    assert.equal(new TextLimiter({}).active, false)
  })

  it('folds converted chunks into one chat.completion', () => {
    const {chunks} = convert([snapshot('a', 'Hi'), snapshot('a', 'Hi there', {finish: 'stop'})])
    const completion = chatChunksToCompletion(chunks, {id: 'x', created: 1, model: 'gpt-4o'})
    assert.equal(completion.choices[0].message.content, 'Hi there')
    assert.equal(completion.choices[0].finish_reason, 'stop')
    assertSchema('CreateChatCompletionResponse', {
      ...completion,
      usage: {prompt_tokens: 1, completion_tokens: 2, total_tokens: 3},
    })
  })
})
