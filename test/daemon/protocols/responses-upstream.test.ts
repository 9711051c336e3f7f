import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {ChatChunk, ChatRequest} from '../../../src/daemon/protocols/chat/types.js'
import {InvalidRequestError, UpstreamFormatError, UpstreamStreamError} from '../../../src/daemon/protocols/errors.js'
import {ResponsesDecoder} from '../../../src/daemon/protocols/responses/decoder.js'
import {responseToChatCompletion} from '../../../src/daemon/protocols/responses/from-responses.js'
import {decodeResponsesRequest} from '../../../src/daemon/protocols/responses/request.js'
import {chatRequestToResponses} from '../../../src/daemon/protocols/responses/to-responses.js'
import {type SseEvent, formatSseEvent, parseSse} from '../../../src/daemon/sse.js'
import {assertSchema} from '../../helpers/openapi.js'

const WEATHER = {type: 'object', properties: {city: {type: 'string'}}, required: ['city'], additionalProperties: false}

describe('chat request → Responses request', () => {
  const chat: ChatRequest = {
    model: 'gpt-5',
    messages: [
      {role: 'system', content: 'You are terse.'},
      {role: 'developer', content: [{type: 'text', text: 'Use metric units.'}]},
      {
        role: 'user',
        content: [
          {type: 'text', text: 'Weather here? '},
          {type: 'image_url', image_url: {url: 'https://example.com/sky.png'}},
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {id: 'call_a', type: 'function', function: {name: 'get_weather', arguments: '{"city":"Paris"}'}},
          {id: 'call_b', type: 'function', function: {name: 'get_weather', arguments: '{"city":"Oslo"}'}},
        ],
      },
      {role: 'tool', tool_call_id: 'call_a', content: '18C'},
      {role: 'tool', tool_call_id: 'call_b', content: [{type: 'text', text: '3C'}]},
      {role: 'assistant', content: 'Paris 18C, Oslo 3C.'},
      {role: 'system', content: 'Now be polite.'},
      {role: 'user', content: 'Thanks'},
    ],
    tools: [{type: 'function', function: {name: 'get_weather', description: 'Weather now', parameters: WEATHER}}],
    tool_choice: {type: 'function', function: {name: 'get_weather'}},
    parallel_tool_calls: true,
    max_tokens: 300,
    response_format: {type: 'json_schema', json_schema: {name: 'w', schema: WEATHER, strict: true}},
    reasoning_effort: 'low',
    verbosity: 'high',
    temperature: 0.5,
    top_p: 0.8,
    user: 'u-1',
    prompt_cache_key: 'k',
    seed: 7,
    stream: true,
    stream_options: {include_usage: true},
    logprobs: true,
    top_logprobs: 3,
  }

  it('maps messages, tools, tool_choice and every parameter; the result is a valid CreateResponse', () => {
    const body = chatRequestToResponses(chat)
    assert.deepEqual(body, {
      model: 'gpt-5',
      instructions: 'You are terse.\n\nUse metric units.',
      input: [
        {
          type: 'message',
          role: 'user',
          content: [
            {type: 'input_text', text: 'Weather here? '},
            {type: 'input_image', image_url: 'https://example.com/sky.png', detail: 'auto'},
          ],
        },
        {type: 'function_call', call_id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}'},
        {type: 'function_call', call_id: 'call_b', name: 'get_weather', arguments: '{"city":"Oslo"}'},
        {type: 'function_call_output', call_id: 'call_a', output: '18C'},
        {type: 'function_call_output', call_id: 'call_b', output: '3C'},
        {type: 'message', role: 'assistant', content: 'Paris 18C, Oslo 3C.'},
        {type: 'message', role: 'system', content: 'Now be polite.'},
        {type: 'message', role: 'user', content: 'Thanks'},
      ],
      tools: [{type: 'function', name: 'get_weather', description: 'Weather now', parameters: WEATHER, strict: false}],
      tool_choice: {type: 'function', name: 'get_weather'},
      parallel_tool_calls: true,
      max_output_tokens: 300,
      text: {format: {type: 'json_schema', name: 'w', schema: WEATHER, strict: true}, verbosity: 'high'},
      reasoning: {effort: 'low'},
      temperature: 0.5,
      top_p: 0.8,
      user: 'u-1',
      prompt_cache_key: 'k',
      top_logprobs: 3,
      include: ['message.output_text.logprobs'],
      store: false,
      stream: true,
    })
    assertSchema('CreateResponse', body)
  })

  it('max_completion_tokens wins over max_tokens; allowed_tools; json_object; no instructions without a leading system message', () => {
    const body = chatRequestToResponses({
      model: 'm',
      messages: [{role: 'user', content: 'x'}],
      max_tokens: 10,
      max_completion_tokens: 20,
      tools: [{type: 'function', function: {name: 'f', strict: true}}],
      tool_choice: {
        type: 'allowed_tools',
        allowed_tools: {mode: 'auto', tools: [{type: 'function', function: {name: 'f'}}]},
      },
      response_format: {type: 'json_object'},
      store: true,
    })
    assert.deepEqual(body, {
      model: 'm',
      input: [{type: 'message', role: 'user', content: 'x'}],
      tools: [{type: 'function', name: 'f', parameters: {type: 'object', properties: {}}, strict: true}],
      tool_choice: {type: 'allowed_tools', mode: 'auto', tools: [{type: 'function', name: 'f'}]},
      max_output_tokens: 20,
      text: {format: {type: 'json_object'}},
      store: true,
    })
    assertSchema('CreateResponse', body)
  })

  it('refuses what Responses cannot do, naming the parameter', () => {
    const base: ChatRequest = {model: 'm', messages: [{role: 'user', content: 'x'}]}
    const cases: Array<[string, Record<string, unknown>]> = [
      ['n', {n: 2}],
      ['stop', {stop: ['\n']}],
      ['frequency_penalty', {frequency_penalty: 0.5}],
      ['presence_penalty', {presence_penalty: -1}],
      ['logit_bias', {logit_bias: {'50256': -100}}],
      ['functions', {functions: [{name: 'f'}]}],
      ['modalities', {modalities: ['text', 'audio']}],
      ['tools[0].type', {tools: [{type: 'custom', custom: {name: 'c'}}]}],
      ['tool_choice', {tool_choice: {type: 'custom', custom: {name: 'c'}}}],
      [
        'messages[0].content[0]',
        {messages: [{role: 'user', content: [{type: 'input_audio', input_audio: {data: 'AAAA', format: 'wav'}}]}]},
      ],
      [
        'messages[1].role',
        {
          messages: [
            {role: 'user', content: 'x'},
            {role: 'function', name: 'f', content: '1'},
          ],
        },
      ],
    ]
    for (const [param, extra] of cases) {
      assert.throws(
        () => chatRequestToResponses({...base, ...extra} as ChatRequest),
        (e: unknown) => e instanceof InvalidRequestError && e.param === param,
        param,
      )
    }

    // harmless: n 1, empty stop, zero penalties, seed
    chatRequestToResponses({...base, n: 1, stop: [], frequency_penalty: 0, seed: 1})
  })

  it('round trip: chat → Responses → chat keeps messages, tools and parameters', () => {
    const back = decodeResponsesRequest(chatRequestToResponses({...chat, stream: undefined})).chat
    const [system, developer, ...rest] = chat.messages
    assert.deepEqual(back.messages, [
      {role: 'system', content: `${system.content as string}\n\nUse metric units.`},
      {
        role: 'user',
        content: [
          {type: 'text', text: 'Weather here? '},
          {type: 'image_url', image_url: {url: 'https://example.com/sky.png', detail: 'auto'}},
        ],
      },
      ...rest.slice(1, 3),
      {role: 'tool', tool_call_id: 'call_b', content: '3C'},
      ...rest.slice(4),
    ])
    assert.equal(developer.role, 'developer')
    assert.deepEqual(back.tools, [
      {
        type: 'function',
        function: {name: 'get_weather', description: 'Weather now', parameters: WEATHER, strict: false},
      },
    ])
    for (const name of [
      'tool_choice',
      'parallel_tool_calls',
      'response_format',
      'reasoning_effort',
      'verbosity',
      'temperature',
      'top_p',
      'user',
      'prompt_cache_key',
      'logprobs',
      'top_logprobs',
    ]) {
      assert.deepEqual(back[name], chat[name], name)
    }

    assert.equal(back.max_completion_tokens, chat.max_tokens)
  })
})

/** A Responses stream body as a Responses upstream (the ChatGPT backend) sends it. */
const sse = (events: Array<Record<string, unknown>>) =>
  events.map((e) => formatSseEvent(String(e.type), JSON.stringify(e))).join('')
const shell = (status: string, extra: Record<string, unknown> = {}) => ({
  id: 'resp_up',
  object: 'response',
  created_at: 1764000000,
  status,
  model: 'gpt-5-codex',
  output: [],
  ...extra,
})
const USAGE = {
  input_tokens: 1200,
  input_tokens_details: {cached_tokens: 1024},
  output_tokens: 80,
  output_tokens_details: {reasoning_tokens: 40},
  total_tokens: 1280,
}

const recorded = sse([
  {type: 'response.created', sequence_number: 0, response: shell('in_progress')},
  {type: 'codex.rate_limits', plan_type: 'plus', rate_limits: {primary: {used_percent: 12.5, window_minutes: 300}}},
  {type: 'response.in_progress', sequence_number: 1, response: shell('in_progress')},
  {
    type: 'response.output_item.added',
    sequence_number: 2,
    output_index: 0,
    item: {id: 'rs_1', type: 'reasoning', summary: []},
  },
  {
    type: 'response.reasoning_summary_part.added',
    sequence_number: 3,
    item_id: 'rs_1',
    output_index: 0,
    summary_index: 0,
    part: {type: 'summary_text', text: ''},
  },
  {
    type: 'response.reasoning_summary_text.delta',
    sequence_number: 4,
    item_id: 'rs_1',
    output_index: 0,
    summary_index: 0,
    delta: '**Checking weather**',
  },
  {
    type: 'response.output_item.done',
    sequence_number: 5,
    output_index: 0,
    item: {
      id: 'rs_1',
      type: 'reasoning',
      summary: [{type: 'summary_text', text: '**Checking weather**'}],
      encrypted_content: 'gAAAA',
    },
  },
  {
    type: 'response.output_item.added',
    sequence_number: 6,
    output_index: 1,
    item: {id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: []},
  },
  {
    type: 'response.content_part.added',
    sequence_number: 7,
    item_id: 'msg_1',
    output_index: 1,
    content_index: 0,
    part: {type: 'output_text', text: '', annotations: [], logprobs: []},
  },
  {
    type: 'response.output_text.delta',
    sequence_number: 8,
    item_id: 'msg_1',
    output_index: 1,
    content_index: 0,
    delta: 'Let me ',
    logprobs: [],
  },
  {type: 'codex.rate_limits', plan_type: 'plus', rate_limits: {}},
  {
    type: 'response.output_text.delta',
    sequence_number: 9,
    item_id: 'msg_1',
    output_index: 1,
    content_index: 0,
    delta: 'check.',
    logprobs: [],
  },
  {
    type: 'response.output_text.done',
    sequence_number: 10,
    item_id: 'msg_1',
    output_index: 1,
    content_index: 0,
    text: 'Let me check.',
    logprobs: [],
  },
  {
    type: 'response.output_item.done',
    sequence_number: 11,
    output_index: 1,
    item: {
      id: 'msg_1',
      type: 'message',
      status: 'completed',
      role: 'assistant',
      content: [{type: 'output_text', text: 'Let me check.', annotations: []}],
    },
  },
  {
    type: 'response.output_item.added',
    sequence_number: 12,
    output_index: 2,
    item: {
      id: 'fc_1',
      type: 'function_call',
      status: 'in_progress',
      arguments: '',
      call_id: 'call_a',
      name: 'get_weather',
    },
  },
  {
    type: 'response.function_call_arguments.delta',
    sequence_number: 13,
    item_id: 'fc_1',
    output_index: 2,
    delta: '{"city":',
  },
  {
    type: 'response.function_call_arguments.delta',
    sequence_number: 14,
    item_id: 'fc_1',
    output_index: 2,
    delta: '"Paris"}',
  },
  {
    type: 'response.function_call_arguments.done',
    sequence_number: 15,
    item_id: 'fc_1',
    output_index: 2,
    arguments: '{"city":"Paris"}',
  },
  {
    type: 'response.output_item.done',
    sequence_number: 16,
    output_index: 2,
    item: {
      id: 'fc_1',
      type: 'function_call',
      status: 'completed',
      arguments: '{"city":"Paris"}',
      call_id: 'call_a',
      name: 'get_weather',
    },
  },
  {
    type: 'response.output_item.added',
    sequence_number: 17,
    output_index: 3,
    item: {
      id: 'fc_2',
      type: 'function_call',
      status: 'in_progress',
      arguments: '',
      call_id: 'call_b',
      name: 'get_weather',
    },
  },
  {
    type: 'response.function_call_arguments.delta',
    sequence_number: 18,
    item_id: 'fc_2',
    output_index: 3,
    delta: '{"city":"Oslo"}',
  },
  {
    type: 'response.function_call_arguments.done',
    sequence_number: 19,
    item_id: 'fc_2',
    output_index: 3,
    arguments: '{"city":"Oslo"}',
  },
  {
    type: 'response.output_item.done',
    sequence_number: 20,
    output_index: 3,
    item: {
      id: 'fc_2',
      type: 'function_call',
      status: 'completed',
      arguments: '{"city":"Oslo"}',
      call_id: 'call_b',
      name: 'get_weather',
    },
  },
  {type: 'response.completed', sequence_number: 21, response: shell('completed', {usage: USAGE})},
])

/** Feed the events in uneven batches; every chunk must be a valid chat stream chunk. */
function decode(events: SseEvent[], decoder = new ResponsesDecoder({id: 'chatcmpl-up'})): ChatChunk[] {
  const chunks: ChatChunk[] = []
  for (let at = 0, size = 1; at < events.length; at += size, size = (size % 3) + 1)
    chunks.push(...decoder.process(events.slice(at, at + size)))
  chunks.push(...decoder.finish())
  for (const c of chunks) assertSchema('CreateChatCompletionStreamResponse', c)
  return chunks
}

const deltas = (chunks: ChatChunk[]) =>
  chunks.map((c) =>
    c.choices.length === 0 ? {usage: c.usage} : {delta: c.choices[0].delta, finish: c.choices[0].finish_reason},
  )

describe('Responses stream → chat chunks', () => {
  it('a recorded-shape stream: text, two calls with their own indexes, usage; unknown events and an empty final output do not matter', () => {
    const decoder = new ResponsesDecoder({id: 'chatcmpl-up'})
    const chunks = decode(parseSse(recorded), decoder)
    assert.equal(decoder.done, true)
    assert.deepEqual(deltas(chunks), [
      {delta: {role: 'assistant', content: ''}, finish: null},
      {delta: {content: 'Let me '}, finish: null},
      {delta: {content: 'check.'}, finish: null},
      {
        delta: {
          tool_calls: [{index: 0, id: 'call_a', type: 'function', function: {name: 'get_weather', arguments: ''}}],
        },
        finish: null,
      },
      {delta: {tool_calls: [{index: 0, function: {arguments: '{"city":'}}]}, finish: null},
      {delta: {tool_calls: [{index: 0, function: {arguments: '"Paris"}'}}]}, finish: null},
      {
        delta: {
          tool_calls: [{index: 1, id: 'call_b', type: 'function', function: {name: 'get_weather', arguments: ''}}],
        },
        finish: null,
      },
      {delta: {tool_calls: [{index: 1, function: {arguments: '{"city":"Oslo"}'}}]}, finish: null},
      {delta: {}, finish: 'tool_calls'},
      {
        usage: {
          prompt_tokens: 1200,
          completion_tokens: 80,
          total_tokens: 1280,
          prompt_tokens_details: {cached_tokens: 1024},
          completion_tokens_details: {reasoning_tokens: 40},
        },
      },
    ])
    assert.deepEqual(chunks[0], {
      id: 'chatcmpl-up',
      object: 'chat.completion.chunk',
      created: 1764000000,
      model: 'gpt-5-codex',
      choices: [{index: 0, delta: {role: 'assistant', content: ''}, logprobs: null, finish_reason: null}],
    })
    assert.deepEqual(
      decoder.process(parseSse(sse([{type: 'response.output_text.delta', delta: 'late'}]))),
      [],
      'nothing after the end',
    )
  })

  it('reasoning summaries as reasoning_content when asked', () => {
    const chunks = decode(parseSse(recorded), new ResponsesDecoder({id: 'c', reasoningContent: true}))
    assert.deepEqual(
      chunks.slice(0, 3).map((c) => c.choices[0].delta),
      [{role: 'assistant', content: ''}, {reasoning_content: '**Checking weather**'}, {content: 'Let me '}],
    )
  })

  it('a text answer ends with stop; incomplete streams end with length or content_filter', () => {
    const text = (end: Record<string, unknown>) =>
      parseSse(
        sse([
          {type: 'response.created', response: shell('in_progress')},
          {type: 'response.output_text.delta', output_index: 0, delta: 'Hi'},
          end,
        ]),
      )
    assert.deepEqual(
      deltas(decode(text({type: 'response.completed', response: shell('completed')}))).map((d) => d.finish),
      [null, null, 'stop'],
    )
    const cut = decode(
      text({
        type: 'response.incomplete',
        response: shell('incomplete', {incomplete_details: {reason: 'max_output_tokens'}, usage: USAGE}),
      }),
    )
    assert.deepEqual(
      deltas(cut)
        .slice(2)
        .map((d) => d.finish ?? 'usage'),
      ['length', 'usage'],
    )
    const filtered = decode(
      text({
        type: 'response.incomplete',
        response: shell('incomplete', {incomplete_details: {reason: 'content_filter'}}),
      }),
    )
    assert.equal(filtered.at(-1)!.choices[0].finish_reason, 'content_filter')
  })

  it('arguments that come only whole (in .done or the finished item) still go out', () => {
    const chunks = decode(
      parseSse(
        sse([
          {
            type: 'response.output_item.added',
            output_index: 0,
            item: {id: 'fc_1', type: 'function_call', call_id: 'call_a', name: 'f', arguments: ''},
          },
          {type: 'response.function_call_arguments.done', item_id: 'fc_1', output_index: 0, arguments: '{"a":1}'},
          {
            type: 'response.output_item.done',
            output_index: 1,
            item: {id: 'fc_2', type: 'function_call', call_id: 'call_b', name: 'g', arguments: '{"b":2}'},
          },
          {type: 'response.completed', response: shell('completed')},
        ]),
      ),
    )
    assert.deepEqual(deltas(chunks).slice(1), [
      {
        delta: {tool_calls: [{index: 0, id: 'call_a', type: 'function', function: {name: 'f', arguments: ''}}]},
        finish: null,
      },
      {delta: {tool_calls: [{index: 0, function: {arguments: '{"a":1}'}}]}, finish: null},
      {
        delta: {tool_calls: [{index: 1, id: 'call_b', type: 'function', function: {name: 'g', arguments: '{"b":2}'}}]},
        finish: null,
      },
      {delta: {}, finish: 'tool_calls'},
    ])
  })

  it("response.failed and error events throw the upstream's message and code; a rate limit stays a 429", () => {
    const failed = parseSse(
      sse([
        {type: 'response.created', response: shell('in_progress')},
        {
          type: 'response.failed',
          response: shell('failed', {error: {code: 'server_error', message: 'The model crashed.'}}),
        },
      ]),
    )
    assert.throws(
      () => new ResponsesDecoder().process(failed),
      (e: unknown) =>
        e instanceof UpstreamStreamError &&
        e.message === 'The model crashed.' &&
        e.code === 'server_error' &&
        e.status === 502,
    )
    const limited = parseSse(
      sse([
        {
          type: 'response.failed',
          response: shell('failed', {error: {code: 'rate_limit_exceeded', message: 'Slow down.'}}),
        },
      ]),
    )
    assert.throws(
      () => new ResponsesDecoder().process(limited),
      (e: unknown) => e instanceof UpstreamStreamError && e.status === 429 && e.code === 'rate_limit_exceeded',
    )
    const error = parseSse(
      sse([{type: 'error', code: 'context_length_exceeded', message: 'Too long.', param: null, sequence_number: 3}]),
    )
    assert.throws(
      () => new ResponsesDecoder().process(error),
      (e: unknown) =>
        e instanceof UpstreamStreamError && e.message === 'Too long.' && e.code === 'context_length_exceeded',
    )
  })

  it('a stream that ends without a terminal event is an error; so is an event that is not JSON', () => {
    const decoder = new ResponsesDecoder()
    decoder.process(parseSse(sse([{type: 'response.output_text.delta', delta: 'Hal'}])))
    assert.equal(decoder.done, false)
    assert.throws(() => decoder.finish(), UpstreamStreamError)
    assert.throws(
      () => new ResponsesDecoder().process([{event: 'response.created', data: '{nope'}]),
      UpstreamFormatError,
    )
    // the type may come from the `event:` line alone
    const named = new ResponsesDecoder()
    assert.deepEqual(
      named.process([{event: 'response.output_text.delta', data: '{"delta":"x"}'}]).map((c) => c.choices[0].delta),
      [{role: 'assistant', content: ''}, {content: 'x'}],
    )
  })
})

describe('Response object → chat completion', () => {
  const response = {
    ...shell('completed', {usage: USAGE, service_tier: 'default'}),
    output: [
      {id: 'rs_1', type: 'reasoning', summary: [{type: 'summary_text', text: 'Thinking.'}]},
      {
        id: 'msg_1',
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [
          {type: 'output_text', text: 'Checking ', annotations: [], logprobs: []},
          {type: 'output_text', text: 'now.', annotations: [], logprobs: []},
        ],
      },
      {
        id: 'fc_1',
        type: 'function_call',
        status: 'completed',
        call_id: 'call_a',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
      },
    ],
  }

  it('folds text, calls and usage; finish tool_calls', () => {
    const chat = responseToChatCompletion(response, {id: 'chatcmpl-1'})
    assert.deepEqual(chat, {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1764000000,
      model: 'gpt-5-codex',
      service_tier: 'default',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Checking now.',
            refusal: null,
            tool_calls: [
              {id: 'call_a', type: 'function', function: {name: 'get_weather', arguments: '{"city":"Paris"}'}},
            ],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 1200,
        completion_tokens: 80,
        total_tokens: 1280,
        prompt_tokens_details: {cached_tokens: 1024},
        completion_tokens_details: {reasoning_tokens: 40},
      },
    })
    assertSchema('CreateChatCompletionResponse', chat)
    assert.equal(
      responseToChatCompletion(response, {reasoningContent: true}).choices[0].message.reasoning_content,
      'Thinking.',
    )
  })

  it('refusal, incomplete, custom tool calls; failed and malformed responses throw', () => {
    const refused = responseToChatCompletion({
      ...shell('incomplete', {incomplete_details: {reason: 'content_filter'}}),
      output: [{id: 'm', type: 'message', role: 'assistant', content: [{type: 'refusal', refusal: 'No.'}]}],
    })
    assert.deepEqual(
      [refused.choices[0].message.content, refused.choices[0].message.refusal, refused.choices[0].finish_reason],
      ['', 'No.', 'content_filter'],
    )
    const custom = responseToChatCompletion({
      ...shell('completed'),
      output: [{id: 'c', type: 'custom_tool_call', call_id: 'call_c', name: 'run_sql', input: 'SELECT 1'}],
    })
    assert.deepEqual(custom.choices[0].message, {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [{id: 'call_c', type: 'function', function: {name: 'run_sql', arguments: '{"input":"SELECT 1"}'}}],
    })
    assert.throws(
      () => responseToChatCompletion({...shell('failed', {error: {code: 'server_error', message: 'Broke.'}})}),
      (e: unknown) => e instanceof UpstreamStreamError && e.message === 'Broke.',
    )
    assert.throws(() => responseToChatCompletion('<html>'), UpstreamFormatError)
  })
})
