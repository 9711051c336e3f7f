import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {describeLimits, planLimitsFromUsage} from '../../../src/core/codex-limits.js'
import {limitsFromFrame, limitsFromHeaders, windowName} from '../../../src/core/plan-limits.js'
import {LimitedDecoder, TextLimiter} from '../../../src/daemon/protocols/chat/limits.js'
import type {ChatChunk} from '../../../src/daemon/protocols/chat/types.js'
import type {StreamDecoder} from '../../../src/daemon/protocols/codec.js'
import {DEFAULT_INSTRUCTIONS, chatToCodexRequest, toCodexRequest} from '../../../src/daemon/protocols/codex/request.js'
import {CodexEvents, foldCodexStream} from '../../../src/daemon/protocols/codex/stream.js'
import type {SseEvent} from '../../../src/daemon/sse.js'

const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
  event: type,
  data: JSON.stringify({type, ...data}),
})

describe('ChatGPT plan requests', () => {
  it("applies the backend's rules to a Responses request and says what it dropped", () => {
    const {body, notes} = toCodexRequest({
      model: 'gpt-5.5',
      input: 'hi',
      store: true,
      max_output_tokens: 50,
      temperature: 0.3,
      metadata: {a: 'b'},
      previous_response_id: 'resp_1',
      parallel_tool_calls: false,
    })
    assert.deepEqual(body, {
      model: 'gpt-5.5',
      input: [{type: 'message', role: 'user', content: [{type: 'input_text', text: 'hi'}]}],
      store: false,
      stream: true,
      instructions: DEFAULT_INSTRUCTIONS,
      parallel_tool_calls: false,
    })
    assert.deepEqual(
      notes.map((n) => n.split(' ')[0]),
      ['max_output_tokens', 'temperature', 'metadata', 'previous_response_id'],
    )
  })

  it("strips item ids and references (nothing is stored there), keeps the client's instructions", () => {
    const {body, notes} = toCodexRequest({
      model: 'm',
      instructions: 'Be Codex',
      input: [
        {type: 'message', id: 'msg_1', role: 'user', content: [{type: 'input_text', text: 'x'}]},
        {type: 'item_reference', id: 'rs_2'},
        {type: 'reasoning', id: 'rs_3', summary: [], encrypted_content: 'gAAA'},
      ],
    })
    assert.equal(body.instructions, 'Be Codex')
    assert.deepEqual(body.input, [
      {type: 'message', role: 'user', content: [{type: 'input_text', text: 'x'}]},
      {type: 'reasoning', summary: [], encrypted_content: 'gAAA'},
    ])
    assert.equal(notes.length, 1)
  })

  it('a chat request: system → instructions, the daemon keeps stop and max_tokens, other parameters dropped with a note', () => {
    const {body, notes} = chatToCodexRequest({
      model: 'm',
      messages: [
        {role: 'system', content: 'sys'},
        {role: 'user', content: 'q'},
      ],
      stop: ['x'],
      max_tokens: 5,
      presence_penalty: 0.5,
      temperature: 1,
    })
    assert.equal(body.instructions, 'sys')
    assert.equal(body.stop, undefined)
    assert.equal(body.max_output_tokens, undefined)
    assert.deepEqual(notes.map((n) => n.split(' ')[0]).sort(), ['presence_penalty', 'temperature'])
  })
})

describe('ChatGPT plan streams', () => {
  const item = {
    type: 'message',
    id: 'msg_1',
    status: 'completed',
    role: 'assistant',
    content: [{type: 'output_text', text: 'Hi', annotations: [], logprobs: []}],
  }
  const stream = [
    ev('response.created', {
      sequence_number: 0,
      response: {id: 'resp_1', status: 'in_progress', output: [], usage: null},
    }),
    ev('codex.rate_limits', {
      plan_type: 'plus',
      rate_limits: {primary: {used_percent: 7, window_minutes: 300, reset_at: 1_790_000_000}},
    }),
    ev('response.output_item.done', {sequence_number: 1, output_index: 0, item}),
    ev('codex.response.metadata', {x: 1}),
    ev('response.completed', {
      sequence_number: 2,
      response: {
        id: 'resp_1',
        status: 'completed',
        output: [],
        usage: {
          input_tokens: 3,
          input_tokens_details: {cached_tokens: 1},
          output_tokens: 2,
          output_tokens_details: {reasoning_tokens: 0},
          total_tokens: 5,
        },
      },
    }),
  ]

  it("reads and drops the backend's own frames, rebuilds an empty final output, completes usage and drops a null one", () => {
    const frames: string[] = []
    const fixed = new CodexEvents((type) => frames.push(type)).fix(stream)
    assert.deepEqual(frames, ['codex.rate_limits', 'codex.response.metadata'])
    assert.deepEqual(
      fixed.map((e) => e.event),
      ['response.created', 'response.output_item.done', 'response.completed'],
    )
    assert.equal('usage' in (JSON.parse(fixed[0].data) as {response: object}).response, false)
    const completed = JSON.parse(fixed[2].data) as {
      response: {output: unknown[]; usage: {input_tokens_details: Record<string, number>}}
    }
    assert.deepEqual(completed.response.output, [item])
    assert.deepEqual(completed.response.usage.input_tokens_details, {cached_tokens: 1, cache_write_tokens: 0})
  })

  it('folds a stream into the final response; a failed one is an error', () => {
    assert.deepEqual((foldCodexStream(stream, () => {}) as {output: unknown[]}).output, [item])
    assert.throws(
      () =>
        foldCodexStream(
          [
            ev('response.failed', {
              response: {status: 'failed', error: {code: 'context_length_exceeded', message: 'too long'}},
            }),
          ],
          () => {},
        ),
      /too long/,
    )
    assert.throws(() => foldCodexStream(stream.slice(0, 3), () => {}), /without a final response/)
  })
})

describe('plan limits', () => {
  it('reads headers (reset time or seconds until it), frames and the usage document alike', () => {
    const now = 1_790_000_000_000
    assert.deepEqual(
      limitsFromHeaders(
        {
          'x-codex-primary-used-percent': '42',
          'x-codex-primary-window-minutes': '300',
          'x-codex-primary-reset-at': '1790003600',
          'x-codex-secondary-used-percent': '84',
          'x-codex-secondary-window-minutes': '10080',
          'x-codex-secondary-reset-after-seconds': '60',
        },
        now,
      )?.windows,
      [
        {window: '5h', usedPercent: 42, resetsAt: new Date(1_790_003_600_000).toISOString()},
        {window: '7d', usedPercent: 84, resetsAt: new Date(now + 60_000).toISOString()},
      ],
    )
    assert.equal(limitsFromHeaders({}, now), undefined)
    assert.equal(
      limitsFromFrame(
        {plan_type: 'pro', rate_limits: {primary: {used_percent: 7, window_minutes: 300, reset_at: 1}}},
        now,
      )?.plan,
      'pro',
    )
    const usage = planLimitsFromUsage(
      {
        plan_type: 'plus',
        rate_limit: {primary_window: {used_percent: 42, limit_window_seconds: 18_000, reset_at: 1_790_000_000}},
      },
      now,
    )
    assert.deepEqual(usage?.windows, [
      {window: '5h', usedPercent: 42, resetsAt: new Date(1_790_000_000_000).toISOString()},
    ])
    assert.deepEqual([windowName(300), windowName(10_080), windowName(90)], ['5h', '7d', '90m'])
    assert.match(describeLimits(usage.windows, now), /^5h: 42% used, resets \d\d:\d\d$/)
  })
})

describe('LimitedDecoder', () => {
  const chunk = (
    content: string | undefined,
    finish: ChatChunk['choices'][number]['finish_reason'] = null,
  ): ChatChunk => ({
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{index: 0, delta: content === undefined ? {} : {content}, finish_reason: finish}],
  })
  const source = (chunks: ChatChunk[]): StreamDecoder => ({done: false, process: () => chunks, finish: () => []})

  it('ends the answer at a stop sequence split over chunks, with finish_reason stop', () => {
    const decoder = new LimitedDecoder(
      source([chunk('Hello wo'), chunk('rld, and more'), chunk(undefined, 'stop')]),
      new TextLimiter({stop: ['world']}),
    )
    const out = decoder.process([])
    assert.deepEqual(
      out.map((c) => [c.choices[0].delta.content, c.choices[0].finish_reason]),
      [
        ['Hell', null],
        ['o ', null],
        [undefined, 'stop'],
      ],
    )
    assert.equal(decoder.done, true)
  })

  it("sends what it held back before the upstream's own finish", () => {
    const decoder = new LimitedDecoder(
      source([chunk('Hello w'), chunk(undefined, 'stop')]),
      new TextLimiter({stop: ['world']}),
    )
    assert.deepEqual(
      decoder.process([]).map((c) => c.choices[0].delta.content ?? `<${c.choices[0].finish_reason}>`),
      ['Hel', 'lo w', '<stop>'],
    )
  })
})
