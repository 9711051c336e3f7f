import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'

import {GptconvError} from '../../../src/core/errors.js'
import type {ChatChunk, ChatCompletion} from '../../../src/daemon/protocols/chat/types.js'
import {
  chatChunkToLegacyChunks,
  chatCompletionsToLegacy,
  finishReasonToLegacy,
  legacyUsageChunk,
  logprobsToLegacy,
  newStreamState,
  pickBest,
} from '../../../src/daemon/protocols/completions/from-chat.js'
import {completionsRequestToChat, parseCompletionsRequest} from '../../../src/daemon/protocols/completions/to-chat.js'
import type {LegacyCompletion} from '../../../src/daemon/protocols/completions/types.js'
import {assertSchema} from '../../helpers/openapi.js'

const badParam = (param: string) => (e: unknown) => e instanceof GptconvError && e.status === 400 && e.param === param

describe('legacy request → chat', () => {
  it('maps every parameter: max_tokens default 16, logprobs, passthrough fields', () => {
    const plan = parseCompletionsRequest({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Say A',
      temperature: 0,
      top_p: 0.5,
      stop: ['\n'],
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
      logit_bias: {'50256': -100},
      user: 'u1',
      seed: 7,
      logprobs: 2,
      n: 2,
    })
    assert.deepEqual(completionsRequestToChat(plan, 'Say A'), {
      model: 'gpt-3.5-turbo-instruct',
      messages: [{role: 'user', content: 'Say A'}],
      temperature: 0,
      top_p: 0.5,
      stop: ['\n'],
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
      logit_bias: {'50256': -100},
      user: 'u1',
      seed: 7,
      n: 2,
      max_tokens: 16,
      logprobs: true,
      top_logprobs: 2,
    })
  })

  it('keeps max_tokens when given, uses max_completion_tokens for reasoning models, asks n = best_of', () => {
    assert.equal(
      completionsRequestToChat(parseCompletionsRequest({model: 'm', prompt: 'x', max_tokens: 5}), 'x').max_tokens,
      5,
    )
    const o = completionsRequestToChat(parseCompletionsRequest({model: 'o3-mini', prompt: 'x'}), 'x')
    assert.equal(o.max_completion_tokens, 16)
    assert.equal('max_tokens' in o, false)
    const best = completionsRequestToChat(parseCompletionsRequest({model: 'm', prompt: 'x', n: 2, best_of: 5}), 'x')
    assert.deepEqual([best.n, best.logprobs, best.top_logprobs], [5, true, 0])
  })

  it('accepts the four prompt forms', () => {
    assert.deepEqual(parseCompletionsRequest({model: 'm', prompt: 'a'}).prompts, ['a'])
    assert.deepEqual(parseCompletionsRequest({model: 'm', prompt: ['a', 'b']}).prompts, ['a', 'b'])
    assert.deepEqual(parseCompletionsRequest({model: 'm', prompt: [1, 2]}).prompts, [[1, 2]])
    assert.deepEqual(parseCompletionsRequest({model: 'm', prompt: [[1], [2, 3]]}).prompts, [[1], [2, 3]])
    assert.deepEqual(parseCompletionsRequest({model: 'm'}).prompts, [''])
  })

  it('refuses what it cannot honour with a 400 naming the parameter', () => {
    assert.throws(() => parseCompletionsRequest({model: 'm', prompt: 'x', suffix: 'tail'}), badParam('suffix'))
    assert.throws(() => parseCompletionsRequest({model: 'm', prompt: 'x', echo: true, logprobs: 1}), badParam('echo'))
    assert.throws(() => parseCompletionsRequest({model: 'm', prompt: 'x', n: 3, best_of: 2}), badParam('best_of'))
    assert.throws(() => parseCompletionsRequest({model: 'm', prompt: 'x', logprobs: 6}), badParam('logprobs'))
    assert.throws(() => parseCompletionsRequest({model: 'm', prompt: 'x', n: 0}), badParam('n'))
    assert.throws(() => parseCompletionsRequest({model: 'm', prompt: []}), badParam('prompt'))
    assert.throws(() => parseCompletionsRequest({model: 'm', prompt: [1, 'a']}), badParam('prompt'))
    assert.throws(() => parseCompletionsRequest({prompt: 'x'}), badParam('model'))
    assert.throws(
      () => parseCompletionsRequest({model: 'm', prompt: 'x', stream_options: {include_usage: true}}),
      badParam('stream_options'),
    )
    parseCompletionsRequest({model: 'm', prompt: 'x', suffix: ''})
    parseCompletionsRequest({model: 'm', prompt: 'x', suffix: null})
  })
})

const chatCompletion = (
  choices: Array<{content: string; finish?: 'stop' | 'length' | 'tool_calls'; logprobs?: number[]}>,
  usage = {prompt_tokens: 3, completion_tokens: 4, total_tokens: 7},
): ChatCompletion => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1700000000,
  model: 'gpt-4o-mini-2024',
  system_fingerprint: 'fp_x',
  choices: choices.map((c, index) => ({
    index,
    message: {role: 'assistant', content: c.content, refusal: null},
    logprobs: c.logprobs
      ? {
          content: c.logprobs.map((lp, i) => ({
            token: `t${i}`,
            logprob: lp,
            bytes: null,
            top_logprobs: [
              {token: `t${i}`, logprob: lp},
              {token: 'alt', logprob: lp - 1},
            ],
          })),
        }
      : null,
    finish_reason: c.finish ?? 'stop',
  })),
  usage,
})

describe('chat answers → legacy response', () => {
  it('numbers choices prompt_idx * n + k, sums usage, echoes, maps finish reasons', () => {
    const plan = parseCompletionsRequest({model: 'gpt-4o-mini', prompt: ['A', 'B'], n: 2, echo: true})
    const {completion} = chatCompletionsToLegacy(
      [
        {prompt: 'A', chat: chatCompletion([{content: ' a0'}, {content: ' a1', finish: 'length'}])},
        {prompt: 'B', chat: chatCompletion([{content: ' b0', finish: 'tool_calls'}, {content: ' b1'}])},
      ],
      plan,
      'cmpl-test',
    )
    assert.deepEqual(completion, {
      id: 'cmpl-test',
      object: 'text_completion',
      created: 1700000000,
      model: 'gpt-4o-mini-2024',
      system_fingerprint: 'fp_x',
      choices: [
        {text: 'A a0', index: 0, logprobs: null, finish_reason: 'stop'},
        {text: 'A a1', index: 1, logprobs: null, finish_reason: 'length'},
        {text: 'B b0', index: 2, logprobs: null, finish_reason: 'stop'},
        {text: 'B b1', index: 3, logprobs: null, finish_reason: 'stop'},
      ],
      usage: {prompt_tokens: 6, completion_tokens: 8, total_tokens: 14},
    })
    assertSchema('CreateCompletionResponse', completion)
  })

  it('maps logprobs back, with the sampled token among the top ones and character offsets', () => {
    const {logprobs, end} = logprobsToLegacy(
      [
        {token: 'Hé', logprob: -0.1, top_logprobs: [{token: 'Hi', logprob: -0.5}]},
        {
          token: '😀!',
          logprob: -0.2,
          top_logprobs: [
            {token: '😀!', logprob: -0.2},
            {token: '?', logprob: -3},
          ],
        },
      ],
      0,
      2,
    )
    assert.deepEqual(logprobs, {
      tokens: ['Hé', '😀!'],
      token_logprobs: [-0.1, -0.2],
      top_logprobs: [
        {Hi: -0.5, Hé: -0.1},
        {'😀!': -0.2, '?': -3},
      ],
      text_offset: [0, 2],
    })
    assert.equal(end, 4, 'offsets count characters, not UTF-16 units')
    assert.deepEqual(finishReasonToLegacy('function_call'), 'stop')
    assert.equal(finishReasonToLegacy(null), null)
  })

  it('best_of keeps the n candidates with the best mean token logprob', () => {
    const plan = parseCompletionsRequest({model: 'm', prompt: 'p', n: 1, best_of: 3})
    const {completion, ranked} = chatCompletionsToLegacy(
      [
        {
          prompt: 'p',
          chat: chatCompletion([
            {content: 'bad', logprobs: [-3, -3]},
            {content: 'good', logprobs: [-0.1, -0.3]},
            {content: 'mid', logprobs: [-1]},
          ]),
        },
      ],
      plan,
      'cmpl-b',
    )
    assert.equal(ranked, true)
    assert.deepEqual(completion.choices, [{text: 'good', index: 0, logprobs: null, finish_reason: 'stop'}])
    const unranked = pickBest(chatCompletion([{content: 'x'}, {content: 'y'}]).choices, 1)
    assert.deepEqual([unranked.ranked, unranked.choices.length], [false, 1])
  })
})

const chunk = (
  index: number,
  delta: Record<string, unknown>,
  finish: string | null = null,
  logprobs: unknown = null,
): ChatChunk =>
  ({
    id: 'chatcmpl-s',
    object: 'chat.completion.chunk',
    created: 1700000001,
    model: 'gpt-4o-mini-2024',
    system_fingerprint: 'fp_s',
    choices: [{index, delta, logprobs, finish_reason: finish}],
  }) as ChatChunk

describe('chat stream → legacy stream', () => {
  it('converts chunk by chunk: same id, no text:null, role chunks dropped, finish on the last chunk only', () => {
    const plan = parseCompletionsRequest({model: 'gpt-4o-mini', prompt: ['A', 'B'], n: 2, stream: true})
    const state = newStreamState('cmpl-s')
    const out = [
      ...chatChunkToLegacyChunks(chunk(0, {role: 'assistant', content: ''}), 1, 'B', plan, state),
      ...chatChunkToLegacyChunks(chunk(1, {content: 'x'}), 1, 'B', plan, state),
      ...chatChunkToLegacyChunks(chunk(1, {}, 'length'), 1, 'B', plan, state),
    ]
    assert.deepEqual(out, [
      {
        id: 'cmpl-s',
        object: 'text_completion',
        created: 1700000001,
        model: 'gpt-4o-mini-2024',
        system_fingerprint: 'fp_s',
        choices: [{text: 'x', index: 3, logprobs: null, finish_reason: null}],
      },
      {
        id: 'cmpl-s',
        object: 'text_completion',
        created: 1700000001,
        model: 'gpt-4o-mini-2024',
        system_fingerprint: 'fp_s',
        choices: [{text: '', index: 3, logprobs: null, finish_reason: 'length'}],
      },
    ])
    for (const c of out) assertSchema('CreateCompletionStreamResponse', c)
  })

  it('echoes the prompt in the first chunk of each choice and offsets logprobs after it', () => {
    const plan = parseCompletionsRequest({model: 'm', prompt: 'Hi', stream: true, echo: true})
    const state = newStreamState('cmpl-e')
    const first = chatChunkToLegacyChunks(chunk(0, {role: 'assistant', content: ''}), 0, 'Hi', plan, state)
    assert.equal(first[0].choices[0].text, 'Hi')
    const plan2 = parseCompletionsRequest({model: 'm', prompt: 'Hi', stream: true, logprobs: 1})
    const state2 = newStreamState('cmpl-l')
    const lp = (token: string) => ({content: [{token, logprob: -0.5, top_logprobs: [{token: 'z', logprob: -2}]}]})
    const a = chatChunkToLegacyChunks(chunk(0, {content: 'ab'}, null, lp('ab')), 0, 'Hi', plan2, state2)
    const b = chatChunkToLegacyChunks(chunk(0, {content: 'c'}, null, lp('c')), 0, 'Hi', plan2, state2)
    assert.deepEqual(a[0].choices[0].logprobs, {
      tokens: ['ab'],
      token_logprobs: [-0.5],
      top_logprobs: [{z: -2, ab: -0.5}],
      text_offset: [0],
    })
    assert.deepEqual(b[0].choices[0].logprobs?.text_offset, [2])
  })

  it('ends with one usage chunk when asked', () => {
    const plan = parseCompletionsRequest({model: 'm', prompt: 'x', stream: true, stream_options: {include_usage: true}})
    const state = newStreamState('cmpl-u')
    chatChunkToLegacyChunks(chunk(0, {content: 'y'}), 0, 'x', plan, state)
    const usage = legacyUsageChunk(state, plan, {prompt_tokens: 1, completion_tokens: 2, total_tokens: 3})
    assert.deepEqual(usage.choices, [])
    assert.equal(usage.id, 'cmpl-u')
    assertSchema('CreateCompletionStreamResponse', usage)
  })

  it('property: for any answers, the streamed text of each choice equals the non-stream text, and every chunk validates', () => {
    const piece = fc.string({maxLength: 6, unit: fc.constantFrom('a', 'b', ' ', '\n', 'é', '😀', '你')})
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.array(piece, {maxLength: 8}), {minLength: 1, maxLength: 3}), {minLength: 1, maxLength: 3}),
        fc.boolean(),
        fc.constantFrom<'stop' | 'length'>('stop', 'length'),
        (answers, echo, finish) => {
          // answers[p][k] = the pieces streamed for prompt p, choice k
          const n = Math.max(...answers.map((a) => a.length))
          const prompts = answers.map((_, p) => `prompt ${p}`)
          const plan = parseCompletionsRequest({model: 'm', prompt: prompts, n, echo, stream: true})
          const state = newStreamState('cmpl-p')
          const streamed = new Map<number, string>()
          const finished = new Map<number, string | null>()
          const chunks: LegacyCompletion[] = []
          for (const [p, choices] of answers.entries()) {
            for (let k = 0; k < n; k++) {
              const pieces = choices[k] ?? []
              chunks.push(
                ...chatChunkToLegacyChunks(chunk(k, {role: 'assistant', content: ''}), p, prompts[p], plan, state),
              )
              for (const text of pieces)
                chunks.push(...chatChunkToLegacyChunks(chunk(k, {content: text}), p, prompts[p], plan, state))
              chunks.push(...chatChunkToLegacyChunks(chunk(k, {}, finish), p, prompts[p], plan, state))
            }
          }

          for (const c of chunks) {
            assertSchema('CreateCompletionStreamResponse', c)
            assert.equal(c.id, 'cmpl-p')
            for (const choice of c.choices) {
              assert.equal(typeof choice.text, 'string')
              assert.equal(finished.get(choice.index) ?? null, null, 'nothing after a choice finished')
              streamed.set(choice.index, (streamed.get(choice.index) ?? '') + choice.text)
              finished.set(choice.index, choice.finish_reason)
            }
          }

          const whole = chatCompletionsToLegacy(
            answers.map((choices, p) => ({
              prompt: prompts[p],
              chat: chatCompletion(Array.from({length: n}, (_, k) => ({content: (choices[k] ?? []).join(''), finish}))),
            })),
            {...plan, stream: false},
            'cmpl-p',
          ).completion
          assertSchema('CreateCompletionResponse', whole)
          for (const choice of whole.choices) {
            assert.equal(streamed.get(choice.index) ?? '', choice.text)
            assert.equal(finished.get(choice.index), choice.finish_reason)
          }
        },
      ),
      {numRuns: 200},
    )
  })
})
