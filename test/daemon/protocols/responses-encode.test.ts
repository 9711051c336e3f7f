import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {ChatChunk, ChatCompletion, ChatUsage} from '../../../src/daemon/protocols/chat/types.js'
import {ResponsesEncoder} from '../../../src/daemon/protocols/responses/encoder.js'
import {decodeResponsesRequest} from '../../../src/daemon/protocols/responses/request.js'
import {chatCompletionToResponse} from '../../../src/daemon/protocols/responses/response.js'
import type {ResponsesPlan} from '../../../src/daemon/protocols/responses/types.js'
import {formatSseEvent} from '../../../src/daemon/sse.js'
import {assertSchema} from '../../helpers/openapi.js'
import {type StreamedEvent, counter, responsesEvents} from '../../helpers/responses.js'

const WEATHER = {type: 'object', properties: {city: {type: 'string'}}, required: ['city']}

/** A request with one function tool and one custom tool. */
function toolPlan(): ResponsesPlan {
  return decodeResponsesRequest(
    {
      model: 'gpt-4o-mini',
      input: 'Weather in Paris and Oslo?',
      tools: [
        {type: 'function', name: 'get_weather', parameters: WEATHER, strict: true},
        {type: 'custom', name: 'run_sql'},
      ],
      stream: true,
    },
    undefined,
    {newId: counter()},
  )
}

const textPlan = () =>
  decodeResponsesRequest({model: 'gpt-4o-mini', input: 'Hi', stream: true}, undefined, {newId: counter()})

/** The Response every test of `textPlan` expects, written out field by field. */
function textResponse(status: string, output: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'resp_1',
    object: 'response',
    created_at: 1764000000,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    max_tool_calls: null,
    metadata: {},
    model: 'gpt-4o-mini-2024-07-18',
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: {effort: null, summary: null},
    service_tier: 'auto',
    store: true,
    temperature: 1,
    text: {format: {type: 'text'}},
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    ...extra,
  }
}

const USAGE: ChatUsage = {prompt_tokens: 3, completion_tokens: 2, total_tokens: 5}
const RESPONSES_USAGE = {
  input_tokens: 3,
  input_tokens_details: {cached_tokens: 0, cache_write_tokens: 0},
  output_tokens: 2,
  output_tokens_details: {reasoning_tokens: 0},
  total_tokens: 5,
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null, index = 0): ChatChunk =>
  ({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1764000001,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{index, delta, logprobs: null, finish_reason: finish}],
  }) as ChatChunk

const encoder = (plan: ResponsesPlan) =>
  new ResponsesEncoder(plan, {id: 'resp_1', createdAt: 1764000000, newId: counter()})

/** Run batches of chunks through a new encoder, then `end`; the events (validated) and the encoder. */
function stream(
  plan: ResponsesPlan,
  batches: ChatChunk[][],
  usage: ChatUsage = USAGE,
): {events: StreamedEvent[]; enc: ResponsesEncoder} {
  const enc = encoder(plan)
  const text = batches.map((b) => enc.push(b, 0)).join('') + enc.end(usage)
  const events = responsesEvents(text)
  assertSchema('Response', enc.response)
  assert.deepEqual(events.at(-1)!.response, enc.response, 'the last event carries the final Response')
  return {events, enc}
}

const completion = (message: Record<string, unknown>, finish: string, usage: ChatUsage = USAGE): ChatCompletion =>
  ({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1764000001,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{index: 0, message: {role: 'assistant', ...message}, logprobs: null, finish_reason: finish}],
    usage,
  }) as ChatCompletion

const outputText = (text: string) => ({type: 'output_text', text, annotations: [], logprobs: []})

describe('chat completion → Response', () => {
  it('a text answer: every field the schema requires', () => {
    const response = chatCompletionToResponse(completion({content: 'Hi!', refusal: null}, 'stop'), textPlan(), {
      id: 'resp_1',
      createdAt: 1764000000,
      newId: counter(),
    })
    assert.deepEqual(
      response,
      textResponse(
        'completed',
        [{type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [outputText('Hi!')]}],
        {usage: RESPONSES_USAGE},
      ),
    )
    assertSchema('Response', response)
  })

  it('tool calls: no empty message, call_id kept, custom tools mapped back, tools echoed with strict and parameters', () => {
    const calls = [
      {id: 'call_a', type: 'function', function: {name: 'get_weather', arguments: '{"city":"Paris"}'}},
      {id: 'call_b', type: 'function', function: {name: 'run_sql', arguments: '{"input":"SELECT 1"}'}},
    ]
    const response = chatCompletionToResponse(
      completion({content: null, tool_calls: calls}, 'tool_calls'),
      toolPlan(),
      {id: 'resp_1', createdAt: 1764000000, newId: counter()},
    )
    assert.deepEqual(response.output, [
      {
        type: 'function_call',
        id: 'fc_1',
        call_id: 'call_a',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
        status: 'completed',
      },
      {type: 'custom_tool_call', id: 'ctc_2', call_id: 'call_b', name: 'run_sql', input: 'SELECT 1'},
    ])
    assert.deepEqual(response.tools, [
      {type: 'function', name: 'get_weather', parameters: WEATHER, strict: true},
      {type: 'custom', name: 'run_sql'},
    ])
    assert.equal(response.status, 'completed')
    assertSchema('Response', response)
    // text before the calls stays, as a message first
    const both = chatCompletionToResponse(
      completion({content: 'Let me check.', tool_calls: calls.slice(0, 1)}, 'tool_calls'),
      toolPlan(),
      {newId: counter()},
    )
    assert.deepEqual(
      both.output.map((i) => i.type),
      ['message', 'function_call'],
    )
    assert.match(both.id, /^resp_\d+$/)
  })

  it('a refusal part; length and content_filter endings; cached and reasoning tokens; logprobs', () => {
    const plan = textPlan()
    const refusal = chatCompletionToResponse(
      completion({content: null, refusal: 'I cannot help with that.'}, 'stop'),
      plan,
      {newId: counter()},
    )
    assert.deepEqual(refusal.output, [
      {
        type: 'message',
        id: 'msg_1',
        role: 'assistant',
        status: 'completed',
        content: [{type: 'refusal', refusal: 'I cannot help with that.'}],
      },
    ])
    const usage = {
      prompt_tokens: 100,
      completion_tokens: 50,
      total_tokens: 150,
      prompt_tokens_details: {cached_tokens: 64},
      completion_tokens_details: {reasoning_tokens: 30},
    }
    const cut = chatCompletionToResponse(completion({content: 'Once upon'}, 'length', usage), plan, {newId: counter()})
    assert.deepEqual(
      [cut.status, cut.incomplete_details, cut.output[0].type === 'message' && cut.output[0].status],
      ['incomplete', {reason: 'max_output_tokens'}, 'incomplete'],
    )
    assert.deepEqual(cut.usage, {
      input_tokens: 100,
      input_tokens_details: {cached_tokens: 64, cache_write_tokens: 0},
      output_tokens: 50,
      output_tokens_details: {reasoning_tokens: 30},
      total_tokens: 150,
    })
    const filtered = chatCompletionToResponse(completion({content: ''}, 'content_filter'), plan, {newId: counter()})
    assert.deepEqual([filtered.status, filtered.incomplete_details], ['incomplete', {reason: 'content_filter'}])
    const withLogprobs = completion({content: 'Hi'}, 'stop')
    withLogprobs.choices[0].logprobs = {
      content: [
        {
          token: 'Hi',
          logprob: -0.1,
          bytes: [72, 105],
          top_logprobs: [
            {token: 'Hi', logprob: -0.1, bytes: [72, 105]},
            {token: 'Hey', logprob: -2.5, bytes: null},
          ],
        },
      ],
    }
    const lp = chatCompletionToResponse(withLogprobs, plan, {newId: counter()})
    assert.deepEqual(lp.output[0].type === 'message' && lp.output[0].content[0], {
      ...outputText('Hi'),
      logprobs: [
        {
          token: 'Hi',
          logprob: -0.1,
          bytes: [72, 105],
          top_logprobs: [
            {token: 'Hi', logprob: -0.1, bytes: [72, 105]},
            {token: 'Hey', logprob: -2.5, bytes: []},
          ],
        },
      ],
    })
    for (const r of [refusal, cut, filtered, lp]) assertSchema('Response', r)
  })
})

describe('chat stream → Responses events', () => {
  it('formats named events', () => {
    assert.equal(formatSseEvent('response.created', '{"a":1}'), 'event: response.created\ndata: {"a":1}\n\n')
  })

  it('a text answer: the whole event sequence, exactly', () => {
    const {events, enc} = stream(textPlan(), [
      [chunk({role: 'assistant', content: ''}), chunk({content: 'Hi'})],
      [chunk({content: ' there!'}), chunk({}, 'stop')],
    ])
    const started = textResponse('in_progress', [])
    const item = {
      type: 'message',
      id: 'msg_1',
      role: 'assistant',
      status: 'completed',
      content: [outputText('Hi there!')],
    }
    const at = {item_id: 'msg_1', output_index: 0, content_index: 0}
    assert.deepEqual(events, [
      {type: 'response.created', response: started, sequence_number: 0},
      {type: 'response.in_progress', response: started, sequence_number: 1},
      {
        type: 'response.output_item.added',
        output_index: 0,
        item: {...item, status: 'in_progress', content: []},
        sequence_number: 2,
      },
      {type: 'response.content_part.added', ...at, part: outputText(''), sequence_number: 3},
      {type: 'response.output_text.delta', ...at, delta: 'Hi', logprobs: [], sequence_number: 4},
      {type: 'response.output_text.delta', ...at, delta: ' there!', logprobs: [], sequence_number: 5},
      {type: 'response.output_text.done', ...at, text: 'Hi there!', logprobs: [], sequence_number: 6},
      {type: 'response.content_part.done', ...at, part: outputText('Hi there!'), sequence_number: 7},
      {type: 'response.output_item.done', output_index: 0, item, sequence_number: 8},
      {
        type: 'response.completed',
        response: textResponse('completed', [item], {usage: RESPONSES_USAGE}),
        sequence_number: 9,
      },
    ])
    assert.equal(enc.id, 'resp_1')
    assert.equal(enc.end(USAGE), '', 'nothing after the end')
    assert.equal(enc.push([chunk({content: 'late'})], 0), '')
  })

  it('two parallel calls with fragmented arguments: one item per chat index, a delta per fragment', () => {
    const call = (index: number, fields: Record<string, unknown>) => chunk({tool_calls: [{index, ...fields}]})
    const {events, enc} = stream(toolPlan(), [
      [chunk({role: 'assistant', content: null}), chunk({content: 'Checking.'})],
      [
        call(0, {id: 'call_a', type: 'function', function: {name: 'get_weather', arguments: ''}}),
        call(0, {function: {arguments: '{"city":'}}),
      ],
      [
        call(0, {function: {arguments: '"Paris"}'}}),
        call(1, {id: 'call_b', type: 'function', function: {name: 'get_weather', arguments: '{"ci'}}),
      ],
      [call(1, {function: {arguments: 'ty":"Oslo"}'}}), chunk({}, 'tool_calls')],
    ])
    const message = {
      type: 'message',
      id: 'msg_1',
      role: 'assistant',
      status: 'completed',
      content: [outputText('Checking.')],
    }
    const a = {
      type: 'function_call',
      id: 'fc_2',
      call_id: 'call_a',
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
      status: 'completed',
    }
    const b = {
      type: 'function_call',
      id: 'fc_3',
      call_id: 'call_b',
      name: 'get_weather',
      arguments: '{"city":"Oslo"}',
      status: 'completed',
    }
    const text = {item_id: 'msg_1', output_index: 0, content_index: 0}
    assert.deepEqual(
      events.slice(2, -1).map(({sequence_number: _, ...e}) => e),
      [
        {type: 'response.output_item.added', output_index: 0, item: {...message, status: 'in_progress', content: []}},
        {type: 'response.content_part.added', ...text, part: outputText('')},
        {type: 'response.output_text.delta', ...text, delta: 'Checking.', logprobs: []},
        {type: 'response.output_text.done', ...text, text: 'Checking.', logprobs: []},
        {type: 'response.content_part.done', ...text, part: outputText('Checking.')},
        {type: 'response.output_item.done', output_index: 0, item: message},
        {type: 'response.output_item.added', output_index: 1, item: {...a, arguments: '', status: 'in_progress'}},
        {type: 'response.function_call_arguments.delta', item_id: 'fc_2', output_index: 1, delta: '{"city":'},
        {type: 'response.function_call_arguments.delta', item_id: 'fc_2', output_index: 1, delta: '"Paris"}'},
        {type: 'response.output_item.added', output_index: 2, item: {...b, arguments: '', status: 'in_progress'}},
        {type: 'response.function_call_arguments.delta', item_id: 'fc_3', output_index: 2, delta: '{"ci'},
        {type: 'response.function_call_arguments.delta', item_id: 'fc_3', output_index: 2, delta: 'ty":"Oslo"}'},
        {
          type: 'response.function_call_arguments.done',
          item_id: 'fc_2',
          output_index: 1,
          name: 'get_weather',
          arguments: '{"city":"Paris"}',
        },
        {type: 'response.output_item.done', output_index: 1, item: a},
        {
          type: 'response.function_call_arguments.done',
          item_id: 'fc_3',
          output_index: 2,
          name: 'get_weather',
          arguments: '{"city":"Oslo"}',
        },
        {type: 'response.output_item.done', output_index: 2, item: b},
      ],
    )
    assert.equal(events.at(-1)!.type, 'response.completed')
    assert.deepEqual(enc.response!.output, [message, a, b])
  })

  it('a custom tool call: its input unwrapped from the JSON arguments, in the custom input events', () => {
    const {events, enc} = stream(toolPlan(), [
      [
        chunk({
          tool_calls: [
            {index: 0, id: 'call_s', type: 'function', function: {name: 'run_sql', arguments: '{"input":"SELECT'}},
          ],
        }),
      ],
      [chunk({tool_calls: [{index: 0, function: {arguments: ' \\"a\\" FROM t"}'}}]}), chunk({}, 'tool_calls')],
    ])
    const item = {type: 'custom_tool_call', id: 'ctc_1', call_id: 'call_s', name: 'run_sql', input: 'SELECT "a" FROM t'}
    assert.deepEqual(
      events.slice(2, -1).map(({sequence_number: _, ...e}) => e),
      [
        {type: 'response.output_item.added', output_index: 0, item: {...item, input: ''}},
        {type: 'response.custom_tool_call_input.delta', item_id: 'ctc_1', output_index: 0, delta: 'SELECT "a" FROM t'},
        {type: 'response.custom_tool_call_input.done', item_id: 'ctc_1', output_index: 0, input: 'SELECT "a" FROM t'},
        {type: 'response.output_item.done', output_index: 0, item},
      ],
    )
    assert.deepEqual(enc.response!.output, [item])
  })

  it('a refusal streams as refusal deltas in a refusal part', () => {
    const {events} = stream(textPlan(), [
      [
        chunk({role: 'assistant', refusal: ''}),
        chunk({refusal: 'I cannot '}),
        chunk({refusal: 'help.'}),
        chunk({}, 'stop'),
      ],
    ])
    const at = {item_id: 'msg_1', output_index: 0, content_index: 0}
    const part = {type: 'refusal', refusal: 'I cannot help.'}
    assert.deepEqual(
      events.slice(3, -2).map(({sequence_number: _, ...e}) => e),
      [
        {type: 'response.content_part.added', ...at, part: {type: 'refusal', refusal: ''}},
        {type: 'response.refusal.delta', ...at, delta: 'I cannot '},
        {type: 'response.refusal.delta', ...at, delta: 'help.'},
        {type: 'response.refusal.done', ...at, refusal: 'I cannot help.'},
        {type: 'response.content_part.done', ...at, part},
      ],
    )
  })

  for (const [finish, reason] of [
    ['length', 'max_output_tokens'],
    ['content_filter', 'content_filter'],
  ] as const) {
    it(`a ${finish} ending: response.incomplete with the reason, open items incomplete`, () => {
      const {events, enc} = stream(textPlan(), [[chunk({content: 'Once upon'}), chunk({}, finish)]])
      const last = events.at(-1)!
      assert.equal(last.type, 'response.incomplete')
      const item = {
        type: 'message',
        id: 'msg_1',
        role: 'assistant',
        status: 'incomplete',
        content: [outputText('Once upon')],
      }
      assert.deepEqual(
        last.response,
        textResponse('incomplete', [item], {incomplete_details: {reason}, usage: RESPONSES_USAGE}),
      )
      assert.deepEqual(events.at(-2), {
        type: 'response.output_item.done',
        output_index: 0,
        item,
        sequence_number: events.length - 2,
      })
      assert.equal(enc.response!.status, 'incomplete')
    })
  }

  it("usage with cached and reasoning tokens; the upstream's service tier", () => {
    const tiered = {...chunk({content: 'ok'}, 'stop'), service_tier: 'default'}
    const {enc} = stream(textPlan(), [[tiered]], {
      prompt_tokens: 2000,
      completion_tokens: 300,
      total_tokens: 2300,
      prompt_tokens_details: {cached_tokens: 1536},
      completion_tokens_details: {reasoning_tokens: 256},
    })
    assert.deepEqual(enc.response!.usage, {
      input_tokens: 2000,
      input_tokens_details: {cached_tokens: 1536, cache_write_tokens: 0},
      output_tokens: 300,
      output_tokens_details: {reasoning_tokens: 256},
      total_tokens: 2300,
    })
    assert.equal(enc.response!.service_tier, 'default')
  })

  it('a failure mid-stream: response.failed with code and message, and nothing after it', () => {
    const enc = encoder(toolPlan())
    let text = enc.push(
      [
        chunk({content: 'Part'}),
        chunk({
          tool_calls: [{index: 0, id: 'call_a', type: 'function', function: {name: 'get_weather', arguments: '{"ci'}}],
        }),
      ],
      0,
    )
    text += enc.fail({
      status: 502,
      message: 'The upstream connection closed.',
      type: 'server_error',
      code: 'upstream_stream_error',
      param: null,
    })
    const events = responsesEvents(text)
    const last = events.at(-1)!
    assert.equal(last.type, 'response.failed')
    assert.deepEqual(last.response, enc.response)
    assert.deepEqual(
      [enc.response!.status, enc.response!.error],
      ['failed', {code: 'server_error', message: 'The upstream connection closed.'}],
    )
    assert.deepEqual(
      enc.response!.output.map((i) => [i.type, 'status' in i && i.status]),
      [
        ['message', 'completed'],
        ['function_call', 'incomplete'],
      ],
    )
    assert.equal('usage' in enc.response!, false)
    assertSchema('Response', enc.response)
    assert.equal(enc.end(USAGE), '')
    assert.equal(enc.fail({status: 500, message: 'x', type: 'server_error', code: null, param: null}), '')
    // a rate limit keeps its own code; a failure before any chunk still opens with response.created
    const early = encoder(textPlan())
    const failed = responsesEvents(
      early.fail({
        status: 429,
        message: 'Slow down.',
        type: 'rate_limit_error',
        code: 'rate_limit_exceeded',
        param: null,
      }),
    )
    assert.deepEqual(
      failed.map((e) => e.type),
      ['response.created', 'response.in_progress', 'response.failed'],
    )
    assert.deepEqual(early.response!.error, {code: 'rate_limit_exceeded', message: 'Slow down.'})
  })

  it('an empty answer is one empty message; empty batches write nothing; choices other than 0 are ignored', () => {
    const enc = encoder(textPlan())
    assert.equal(enc.push([], 0), '')
    const text = enc.push([chunk({content: 'other'}, null, 1), chunk({}, 'stop')], 0) + enc.end(USAGE)
    const events = responsesEvents(text)
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ],
    )
    assert.deepEqual(enc.response!.output, [
      {type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [outputText('')]},
    ])
  })

  it('text after the calls opens a second message; a call named late goes out with its earlier fragments', () => {
    const {enc} = stream(toolPlan(), [
      [chunk({tool_calls: [{index: 0, id: 'call_a', function: {arguments: '{"city"'}}]})],
      [
        chunk({tool_calls: [{index: 0, function: {name: 'get_weather', arguments: ':"Rome"}'}}]}),
        chunk({content: 'Done.'}),
        chunk({}, 'tool_calls'),
      ],
    ])
    assert.deepEqual(enc.response!.output, [
      {
        type: 'function_call',
        id: 'fc_1',
        call_id: 'call_a',
        name: 'get_weather',
        arguments: '{"city":"Rome"}',
        status: 'completed',
      },
      {type: 'message', id: 'msg_2', role: 'assistant', status: 'completed', content: [outputText('Done.')]},
    ])
  })

  it('logprobs go out with each text delta and into the part', () => {
    const withLogprobs = {
      ...chunk({content: 'Hi'}),
      choices: [
        {
          index: 0,
          delta: {content: 'Hi'},
          logprobs: {
            content: [
              {token: 'Hi', logprob: -0.5, bytes: [72, 105], top_logprobs: [{token: 'Yo', logprob: -1, bytes: null}]},
            ],
          },
          finish_reason: null,
        },
      ],
    } as ChatChunk
    const {events, enc} = stream(textPlan(), [[withLogprobs, chunk({}, 'stop')]])
    assert.deepEqual(events.find((e) => e.type === 'response.output_text.delta')!.logprobs, [
      {token: 'Hi', logprob: -0.5, top_logprobs: [{token: 'Yo', logprob: -1}]},
    ])
    const message = enc.response!.output[0]
    assert.deepEqual(message.type === 'message' && message.content[0], {
      ...outputText('Hi'),
      logprobs: [{token: 'Hi', logprob: -0.5, bytes: [72, 105], top_logprobs: [{token: 'Yo', logprob: -1, bytes: []}]}],
    })
  })
})
