import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {ChatCompletion, ChatFinishReason} from '../../../src/daemon/protocols/chat/types.js'
import {anthropicErrorBody, anthropicErrorType} from '../../../src/daemon/protocols/anthropic/errors.js'
import {decodeMessagesRequest} from '../../../src/daemon/protocols/anthropic/request.js'
import {
  chatCompletionToMessage,
  toolInput,
  toolUseId,
  usageToAnthropic,
} from '../../../src/daemon/protocols/anthropic/response.js'
import type {MessagesEcho} from '../../../src/daemon/protocols/anthropic/types.js'
import {assertSchema} from '../../helpers/openapi.js'

const echo = (extra: Partial<MessagesEcho> = {}): {echo: MessagesEcho} => ({
  echo: {model: 'claude-sonnet-4-5', toolNames: new Map(), stopSequences: [], thinking: false, ...extra},
})

const completion = (
  message: Partial<ChatCompletion['choices'][number]['message']>,
  finish: ChatFinishReason | null = 'stop',
  extra: Record<string, unknown> = {},
): ChatCompletion => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [
    {
      index: 0,
      message: {role: 'assistant', content: null, refusal: null, ...message},
      logprobs: null,
      finish_reason: finish,
      ...extra,
    },
  ],
  usage: {prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, prompt_tokens_details: {cached_tokens: 100}},
})

describe('chat completion → Anthropic message', () => {
  it('converts text and tool calls: ids kept, input parsed, names mapped back, usage split into cached and not', () => {
    const chat = completion(
      {
        content: 'Checking.',
        tool_calls: [
          {id: 'call_a', type: 'function', function: {name: 'get_weather', arguments: '{"city":"Paris"}'}},
          {id: 'call_b', type: 'function', function: {name: 'my_tool_0c1a2b3c', arguments: '{}'}},
        ],
      },
      'tool_calls',
    )
    assertSchema('CreateChatCompletionResponse', chat)
    const message = chatCompletionToMessage(chat, echo({toolNames: new Map([['my_tool_0c1a2b3c', 'my.tool']])}), {
      id: 'msg_1',
    })
    assert.deepEqual(message, {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [
        {type: 'text', text: 'Checking.'},
        {type: 'tool_use', id: 'call_a', name: 'get_weather', input: {city: 'Paris'}},
        {type: 'tool_use', id: 'call_b', name: 'my.tool', input: {}},
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {input_tokens: 20, output_tokens: 30, cache_creation_input_tokens: 0, cache_read_input_tokens: 100},
    })
  })

  it('omits an empty text block, gives a random msg_ id, names the model the client asked for', () => {
    const a = chatCompletionToMessage(completion({content: ''}), echo())
    const b = chatCompletionToMessage(completion({content: ''}), echo())
    assert.deepEqual(a.content, [])
    assert.match(a.id, /^msg_[\w-]{24}$/)
    assert.notEqual(a.id, b.id)
    assert.equal(a.model, 'claude-sonnet-4-5')
  })

  it('maps finish reasons: stop → end_turn, length → max_tokens, tool calls → tool_use, content_filter and refusals → refusal', () => {
    const reason = (finish: ChatFinishReason | null, message: Record<string, unknown> = {content: 'x'}) => {
      const m = chatCompletionToMessage(completion(message, finish), echo({stopSequences: ['END']}))
      return [m.stop_reason, m.stop_sequence]
    }

    const call = {tool_calls: [{id: 'c', type: 'function', function: {name: 'f', arguments: '{}'}}]}
    assert.deepEqual(reason('stop'), ['end_turn', null])
    assert.deepEqual(reason(null), ['end_turn', null])
    assert.deepEqual(reason('length'), ['max_tokens', null])
    assert.deepEqual(reason('length', call), ['max_tokens', null])
    assert.deepEqual(reason('tool_calls', call), ['tool_use', null])
    assert.deepEqual(reason('stop', call), ['tool_use', null])
    assert.deepEqual(reason('function_call', call), ['tool_use', null])
    assert.deepEqual(reason('tool_calls'), ['end_turn', null], 'no tool_use without a tool_use block')
    assert.deepEqual(reason('content_filter'), ['refusal', null])
    const refused = chatCompletionToMessage(completion({content: null, refusal: "I can't help with that."}), echo())
    assert.deepEqual(
      [refused.content, refused.stop_reason],
      [[{type: 'text', text: "I can't help with that."}], 'refusal'],
    )
  })

  it('says stop_sequence only when the upstream names the matched sequence (vLLM stop_reason, SGLang matched_stop)', () => {
    const stops = echo({stopSequences: ['END', '###']})
    const vllm = chatCompletionToMessage(completion({content: 'x'}, 'stop', {stop_reason: '###'}), stops)
    assert.deepEqual([vllm.stop_reason, vllm.stop_sequence], ['stop_sequence', '###'])
    const sglang = chatCompletionToMessage(completion({content: 'x'}, 'stop', {matched_stop: 'END'}), stops)
    assert.deepEqual([sglang.stop_reason, sglang.stop_sequence], ['stop_sequence', 'END'])
    const eos = chatCompletionToMessage(completion({content: 'x'}, 'stop', {stop_reason: 128_009}), stops)
    assert.deepEqual([eos.stop_reason, eos.stop_sequence], ['end_turn', null])
    const other = chatCompletionToMessage(completion({content: 'x'}, 'stop', {stop_reason: 'NOT ASKED'}), stops)
    assert.deepEqual([other.stop_reason, other.stop_sequence], ['end_turn', null])
  })

  it('adds reasoning as a thinking block only when the client asked for thinking', () => {
    const chat = completion({content: 'Done.', reasoning_content: 'Let me think.'})
    assert.deepEqual(chatCompletionToMessage(chat, echo({thinking: true})).content, [
      {type: 'thinking', thinking: 'Let me think.', signature: ''},
      {type: 'text', text: 'Done.'},
    ])
    assert.deepEqual(chatCompletionToMessage(chat, echo()).content, [{type: 'text', text: 'Done.'}])
    const plan = decodeMessagesRequest({
      model: 'm',
      max_tokens: 9000,
      thinking: {type: 'enabled', budget_tokens: 4000},
      messages: [{role: 'user', content: 'x'}],
    })
    assert.equal(chatCompletionToMessage(chat, plan).content.length, 2)
  })

  it('reads tool arguments: an object as is; empty, broken or non-object JSON → {}', () => {
    assert.deepEqual(toolInput('{"a":[1,{"b":null}]}'), {a: [1, {b: null}]})
    assert.deepEqual(toolInput(''), {})
    assert.deepEqual(toolInput(undefined), {})
    assert.deepEqual(toolInput('{"a":'), {})
    assert.deepEqual(toolInput('[1,2]'), {})
    assert.deepEqual(toolInput('"text"'), {})
    assert.deepEqual(toolInput('null'), {})
  })

  it('keeps valid tool ids, replaces the characters Anthropic refuses, makes one when missing', () => {
    assert.equal(toolUseId('call_Ab-9'), 'call_Ab-9')
    assert.equal(toolUseId('functions.Bash:0'), 'functions_Bash_0')
    assert.match(toolUseId(undefined), /^toolu_[\w-]{16}$/)
    assert.match(toolUseId(''), /^toolu_[\w-]{16}$/)
  })

  it('maps usage without details, and never reports more cached than prompt tokens', () => {
    assert.deepEqual(usageToAnthropic({prompt_tokens: 5, completion_tokens: 2, total_tokens: 7}), {
      input_tokens: 5,
      output_tokens: 2,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    })
    assert.deepEqual(
      usageToAnthropic({
        prompt_tokens: 5,
        completion_tokens: 2,
        total_tokens: 7,
        prompt_tokens_details: {cached_tokens: 9},
      }),
      {input_tokens: 0, output_tokens: 2, cache_creation_input_tokens: 0, cache_read_input_tokens: 5},
    )
    assert.deepEqual(usageToAnthropic(undefined), {
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    })
  })
})

describe('Anthropic error bodies', () => {
  it('maps statuses to Anthropic error types', () => {
    const table: Array<[number, string]> = [
      [400, 'invalid_request_error'],
      [401, 'authentication_error'],
      [402, 'billing_error'],
      [403, 'permission_error'],
      [404, 'not_found_error'],
      [408, 'timeout_error'],
      [409, 'conflict_error'],
      [413, 'request_too_large'],
      [422, 'invalid_request_error'],
      [429, 'rate_limit_error'],
      [500, 'api_error'],
      [502, 'api_error'],
      [503, 'overloaded_error'],
      [504, 'timeout_error'],
      [529, 'overloaded_error'],
    ]
    assert.deepEqual(
      table.map(([status]) => [status, anthropicErrorType(status)]),
      table,
    )
    assert.deepEqual(anthropicErrorBody(404, 'model: sonnet4'), {
      type: 'error',
      error: {type: 'not_found_error', message: 'model: sonnet4'},
    })
  })
})
