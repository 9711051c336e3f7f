import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {InvalidRequestError} from '../../../src/daemon/protocols/errors.js'
import {decodeResponsesRequest} from '../../../src/daemon/protocols/responses/request.js'
import type {ResponsesHistory} from '../../../src/daemon/protocols/responses/types.js'

const badParam = (param: string) => (e: unknown) => {
  assert.ok(e instanceof InvalidRequestError, `expected InvalidRequestError, got ${String(e)}`)
  assert.equal(e.status, 400)
  assert.equal(e.param, param)
  return true
}

describe('Responses request → chat: refusals name the parameter', () => {
  const ok = {model: 'm', input: 'x'}
  const cases: Array<[string, Record<string, unknown>, ResponsesHistory?]> = [
    ['model', {input: 'x'}],
    ['model', {model: '', input: 'x'}],
    ['input', {model: 'm'}],
    ['input', {model: 'm', input: 42}],
    ['input', {model: 'm', input: []}],
    ['input[0]', {model: 'm', input: ['hi']}],
    ['input[0].role', {model: 'm', input: [{role: 'tool', content: 'x'}]}],
    ['input[0].content', {model: 'm', input: [{role: 'user', content: 7}]}],
    [
      'input[3].content[0]',
      {
        model: 'm',
        input: ['a', 'b', 'c']
          .map((t) => ({role: 'user', content: t}))
          .concat([{role: 'user', content: [{type: 'input_file', file_id: 'file-1'}] as never}]),
      },
    ],
    [
      'input[0].content[1]',
      {
        model: 'm',
        input: [
          {
            role: 'user',
            content: [
              {type: 'input_text', text: 'see'},
              {type: 'input_image', file_id: 'file-2', detail: 'auto'},
            ],
          },
        ],
      },
    ],
    [
      'input[0].content[0].type',
      {
        model: 'm',
        input: [{role: 'system', content: [{type: 'input_image', image_url: 'https://x/y.png', detail: 'auto'}]}],
      },
    ],
    ['input[0].type', {model: 'm', input: [{type: 'web_search_call', id: 'ws_1', status: 'completed'}]}],
    ['input[0].call_id', {model: 'm', input: [{type: 'function_call', name: 'f', arguments: '{}'}]}],
    [
      'input[0].output[0]',
      {
        model: 'm',
        input: [
          {type: 'function_call_output', call_id: 'c', output: [{type: 'input_image', image_url: 'https://x/y.png'}]},
        ],
      },
    ],
    ['input[0].id', {model: 'm', input: [{type: 'item_reference', id: 'msg_nope'}]}],
    [
      'input[0].id',
      {model: 'm', input: [{type: 'item_reference', id: 'msg_nope'}]},
      {response: () => undefined, item: () => undefined},
    ],
    [
      'tools[2].type',
      {...ok, tools: [{type: 'function', name: 'a'}, {type: 'custom', name: 'b'}, {type: 'web_search'}]},
    ],
    ['tools[0].name', {...ok, tools: [{type: 'function'}]}],
    ['tools', {...ok, tools: {}}],
    ['tool_choice', {...ok, tools: [{type: 'function', name: 'a'}], tool_choice: {type: 'file_search'}}],
    ['tool_choice', {...ok, tools: [{type: 'function', name: 'a'}], tool_choice: {type: 'function', name: 'b'}}],
    [
      'tool_choice.tools[0]',
      {
        ...ok,
        tools: [{type: 'function', name: 'a'}],
        tool_choice: {type: 'allowed_tools', mode: 'auto', tools: [{type: 'mcp', server_label: 's'}]},
      },
    ],
    [
      'previous_response_id',
      {...ok, previous_response_id: 'resp_unknown'},
      {response: () => undefined, item: () => undefined},
    ],
    ['previous_response_id', {...ok, previous_response_id: 'resp_unknown'}],
    ['background', {...ok, background: true}],
    ['conversation', {...ok, conversation: 'conv_1'}],
    ['prompt', {...ok, prompt: {id: 'pmpt_1'}}],
    ['text.format.type', {...ok, text: {format: {type: 'xml'}}}],
    ['text.format.schema', {...ok, text: {format: {type: 'json_schema', name: 'n'}}}],
    ['text.verbosity', {...ok, text: {verbosity: 'loud'}}],
    ['metadata', {...ok, metadata: {n: 1}}],
    ['temperature', {...ok, temperature: 3}],
    ['top_logprobs', {...ok, top_logprobs: 21}],
    ['max_output_tokens', {...ok, max_output_tokens: 1.5}],
    ['stream', {...ok, stream: 'yes'}],
    ['instructions', {...ok, instructions: ['x']}],
    ['truncation', {...ok, truncation: 'middle'}],
    ['reasoning.effort', {...ok, reasoning: {effort: 3}}],
  ]
  for (const [param, body, history] of cases) {
    it(`${param}: ${JSON.stringify(body).slice(0, 90)}`, () => {
      assert.throws(() => decodeResponsesRequest(body, history), badParam(param))
    })
  }

  it("an unknown previous response is the API's own error code", () => {
    assert.throws(
      () => decodeResponsesRequest({...ok, previous_response_id: 'resp_x'}),
      (e: unknown) => e instanceof InvalidRequestError && e.code === 'previous_response_not_found',
    )
    assert.throws(
      () => decodeResponsesRequest(null),
      (e: unknown) => e instanceof InvalidRequestError && e.param === null,
    )
    decodeResponsesRequest({...ok, background: false, conversation: null, prompt: null})
  })
})
