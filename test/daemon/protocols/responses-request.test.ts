import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {decodeResponsesRequest} from '../../../src/daemon/protocols/responses/request.js'
import type {InputItem, OutputItem, ResponsesHistory} from '../../../src/daemon/protocols/responses/types.js'
import {assertSchema} from '../../helpers/openapi.js'
import {counter} from '../../helpers/responses.js'

/**
 * Decode with counted ids; the chat request must be a valid chat request and every kept item a
 * valid input item. (Request fixtures are not checked against `CreateResponse`: clients send,
 * and the API accepts, shapes the schema is stricter about, such as Codex's assistant messages
 * with `output_text` parts and no id, or function tools without `strict`.)
 */
const decode = (body: Record<string, unknown>, history?: ResponsesHistory) => {
  const plan = decodeResponsesRequest(body, history, {newId: counter()})
  assertSchema('CreateChatCompletionRequest', plan.chat)
  for (const item of plan.input) assertSchema('InputItem', item)
  return plan
}

const userText = (id: string, text: string): InputItem => ({
  type: 'message',
  id,
  role: 'user',
  status: 'completed',
  content: [{type: 'input_text', text}],
})

describe('Responses request → chat: parameters', () => {
  it('maps a string input, instructions and every sampling parameter; keeps the echo', () => {
    const plan = decode({
      model: 'gpt-4o-mini',
      instructions: 'Be brief.',
      input: 'Hi',
      temperature: 0.2,
      top_p: 0.9,
      max_output_tokens: 64,
      top_logprobs: 2,
      user: 'u-1',
      safety_identifier: 'safe-1',
      prompt_cache_key: 'cache-1',
      service_tier: 'flex',
      metadata: {topic: 'greeting'},
      text: {
        format: {type: 'json_schema', name: 'answer', schema: {type: 'object'}, strict: true, description: 'd'},
        verbosity: 'low',
      },
      reasoning: {effort: 'low', summary: 'auto'},
      store: false,
      stream: true,
      include: ['reasoning.encrypted_content'],
      truncation: 'auto',
      max_tool_calls: 3,
      stream_options: {include_obfuscation: false},
    })
    assert.deepEqual(plan.chat, {
      model: 'gpt-4o-mini',
      messages: [
        {role: 'system', content: 'Be brief.'},
        {role: 'user', content: 'Hi'},
      ],
      temperature: 0.2,
      top_p: 0.9,
      max_completion_tokens: 64,
      logprobs: true,
      top_logprobs: 2,
      response_format: {
        type: 'json_schema',
        json_schema: {name: 'answer', schema: {type: 'object'}, strict: true, description: 'd'},
      },
      verbosity: 'low',
      reasoning_effort: 'low',
      user: 'u-1',
      safety_identifier: 'safe-1',
      prompt_cache_key: 'cache-1',
      service_tier: 'flex',
    })
    assert.deepEqual([plan.model, plan.stream, plan.store], ['gpt-4o-mini', true, false])
    assert.deepEqual(plan.input, [userText('msg_1', 'Hi')])
    assert.deepEqual(plan.echo, {
      instructions: 'Be brief.',
      max_output_tokens: 64,
      max_tool_calls: 3,
      metadata: {topic: 'greeting'},
      parallel_tool_calls: true,
      previous_response_id: null,
      prompt_cache_key: 'cache-1',
      reasoning: {effort: 'low', summary: 'auto'},
      safety_identifier: 'safe-1',
      service_tier: 'flex',
      store: false,
      temperature: 0.2,
      text: {
        format: {type: 'json_schema', name: 'answer', schema: {type: 'object'}, strict: true, description: 'd'},
        verbosity: 'low',
      },
      tool_choice: 'auto',
      tools: [],
      top_logprobs: 2,
      top_p: 0.9,
      truncation: 'auto',
      user: 'u-1',
    })
    assert.deepEqual(plan.customTools, [])
  })

  it('defaults: store true, stream false, nothing sent that was not asked, json_object and plain text formats', () => {
    const plan = decode({model: 'm', input: 'x'})
    assert.deepEqual(plan.chat, {model: 'm', messages: [{role: 'user', content: 'x'}]})
    assert.deepEqual([plan.stream, plan.store], [false, true])
    assert.deepEqual(plan.echo.text, {format: {type: 'text'}})
    assert.deepEqual(
      [plan.echo.temperature, plan.echo.top_p, plan.echo.service_tier, plan.echo.truncation],
      [1, 1, 'auto', 'disabled'],
    )
    assert.deepEqual(plan.echo.reasoning, {effort: null, summary: null})
    assert.deepEqual(decode({model: 'm', input: 'x', text: {format: {type: 'json_object'}}}).chat.response_format, {
      type: 'json_object',
    })
    assert.equal('response_format' in decode({model: 'm', input: 'x', text: {format: {type: 'text'}}}).chat, false)
    // asking for output logprobs through `include` alone turns them on
    assert.deepEqual(decode({model: 'm', input: 'x', include: ['message.output_text.logprobs']}).chat.logprobs, true)
    // `null` is "not given"
    assert.deepEqual(
      decode({
        model: 'm',
        input: 'x',
        temperature: null,
        instructions: null,
        reasoning: null,
        previous_response_id: null,
      }).chat,
      {model: 'm', messages: [{role: 'user', content: 'x'}]},
    )
  })

  it('maps function and custom tools, tool_choice in every form, parallel_tool_calls', () => {
    const parameters = {type: 'object', properties: {city: {type: 'string'}}, required: ['city']}
    const plan = decode({
      model: 'm',
      input: 'Weather?',
      tools: [
        {type: 'function', name: 'get_weather', description: 'Weather now', parameters, strict: false},
        {type: 'custom', name: 'run_sql', description: 'Runs SQL'},
        {type: 'custom', name: 'patch', format: {type: 'grammar', syntax: 'lark', definition: 'start: "x"'}},
      ],
      tool_choice: {type: 'function', name: 'get_weather'},
      parallel_tool_calls: false,
    })
    const custom = {
      type: 'object',
      properties: {input: {type: 'string'}},
      required: ['input'],
      additionalProperties: false,
    }
    assert.deepEqual(plan.chat.tools, [
      {type: 'function', function: {name: 'get_weather', description: 'Weather now', parameters, strict: false}},
      {type: 'function', function: {name: 'run_sql', description: 'Runs SQL', parameters: custom}},
      {
        type: 'function',
        function: {
          name: 'patch',
          description: 'The input must follow this lark grammar:\nstart: "x"',
          parameters: custom,
        },
      },
    ])
    assert.deepEqual(plan.chat.tool_choice, {type: 'function', function: {name: 'get_weather'}})
    assert.equal(plan.chat.parallel_tool_calls, false)
    assert.deepEqual(plan.customTools, ['run_sql', 'patch'])
    assert.deepEqual(plan.echo.tools, [
      {type: 'function', name: 'get_weather', description: 'Weather now', parameters, strict: false},
      {type: 'custom', name: 'run_sql', description: 'Runs SQL'},
      {type: 'custom', name: 'patch', format: {type: 'grammar', syntax: 'lark', definition: 'start: "x"'}},
    ])
    assert.deepEqual(plan.echo.parallel_tool_calls, false)

    const tools = [
      {type: 'function', name: 'f'},
      {type: 'custom', name: 'c'},
    ]
    assert.deepEqual(
      decode({model: 'm', input: 'x', tools, tool_choice: {type: 'custom', name: 'c'}}).chat.tool_choice,
      {type: 'function', function: {name: 'c'}},
    )
    assert.equal(decode({model: 'm', input: 'x', tools, tool_choice: 'required'}).chat.tool_choice, 'required')
    const allowed = decode({
      model: 'm',
      input: 'x',
      tools,
      tool_choice: {
        type: 'allowed_tools',
        mode: 'required',
        tools: [
          {type: 'function', name: 'f'},
          {type: 'custom', name: 'c'},
        ],
      },
    })
    assert.deepEqual(allowed.chat.tool_choice, {
      type: 'allowed_tools',
      allowed_tools: {
        mode: 'required',
        tools: [
          {type: 'function', function: {name: 'f'}},
          {type: 'function', function: {name: 'c'}},
        ],
      },
    })
    assert.deepEqual(allowed.echo.tool_choice, {
      type: 'allowed_tools',
      mode: 'required',
      tools: [
        {type: 'function', name: 'f'},
        {type: 'custom', name: 'c'},
      ],
    })
    // the echoed function tool has `strict` and `parameters` even when the request left them out
    assert.deepEqual(decode({model: 'm', input: 'x', tools}).echo.tools[0], {
      type: 'function',
      name: 'f',
      parameters: null,
      strict: null,
    })
    // chat refuses tool_choice and parallel_tool_calls without tools: they are not sent then
    const bare = decode({model: 'm', input: 'x', tool_choice: 'none', parallel_tool_calls: true})
    assert.deepEqual(Object.keys(bare.chat).sort(), ['messages', 'model'])
    assert.equal(bare.echo.tool_choice, 'none')
  })
})

describe('Responses request → chat: input items', () => {
  it('maps messages with parts, assistant text and refusal, calls and outputs; drops reasoning; gives every item an id', () => {
    const plan = decode({
      model: 'm',
      input: [
        {role: 'developer', content: 'Use metric units.'},
        {
          type: 'message',
          role: 'user',
          content: [
            {type: 'input_text', text: 'What is in '},
            {type: 'input_image', image_url: 'https://example.com/a.png', detail: 'low'},
          ],
        },
        {
          type: 'message',
          role: 'assistant',
          content: [
            {type: 'output_text', text: 'A cat.'},
            {type: 'refusal', refusal: 'No more.'},
          ],
        },
        {
          type: 'reasoning',
          id: 'rs_9',
          summary: [{type: 'summary_text', text: 'thinking'}],
          encrypted_content: 'gAAAA',
        },
        {type: 'message', role: 'assistant', content: [{type: 'output_text', text: 'Checking.'}]},
        {type: 'function_call', id: 'fc_9', call_id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}'},
        {type: 'function_call', call_id: 'call_b', name: 'get_weather', arguments: '{"city":"Oslo"}'},
        {type: 'custom_tool_call', call_id: 'call_c', name: 'run_sql', input: 'SELECT 1'},
        {type: 'function_call_output', call_id: 'call_a', output: '18C'},
        {
          type: 'function_call_output',
          call_id: 'call_b',
          output: [
            {type: 'input_text', text: '3'},
            {type: 'input_text', text: 'C'},
          ],
        },
        {type: 'custom_tool_call_output', call_id: 'call_c', output: '1'},
      ],
    })
    assert.deepEqual(plan.chat.messages, [
      {role: 'developer', content: 'Use metric units.'},
      {
        role: 'user',
        content: [
          {type: 'text', text: 'What is in '},
          {type: 'image_url', image_url: {url: 'https://example.com/a.png', detail: 'low'}},
        ],
      },
      {role: 'assistant', content: 'A cat.', refusal: 'No more.'},
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          {id: 'call_a', type: 'function', function: {name: 'get_weather', arguments: '{"city":"Paris"}'}},
          {id: 'call_b', type: 'function', function: {name: 'get_weather', arguments: '{"city":"Oslo"}'}},
          {id: 'call_c', type: 'function', function: {name: 'run_sql', arguments: '{"input":"SELECT 1"}'}},
        ],
      },
      {role: 'tool', tool_call_id: 'call_a', content: '18C'},
      {role: 'tool', tool_call_id: 'call_b', content: '3C'},
      {role: 'tool', tool_call_id: 'call_c', content: '1'},
    ])
    assert.deepEqual(
      plan.input.map((i) => [i.type, i.id]),
      [
        ['message', 'msg_1'],
        ['message', 'msg_2'],
        ['message', 'msg_3'],
        ['reasoning', 'rs_9'],
        ['message', 'msg_4'],
        ['function_call', 'fc_9'],
        ['function_call', 'fc_5'],
        ['custom_tool_call', 'ctc_6'],
        ['function_call_output', 'fco_7'],
        ['function_call_output', 'fco_8'],
        ['custom_tool_call_output', 'ctco_9'],
      ],
    )
    assert.deepEqual(plan.input[2], {
      type: 'message',
      id: 'msg_3',
      role: 'assistant',
      status: 'completed',
      content: [
        {type: 'output_text', text: 'A cat.', annotations: [], logprobs: []},
        {type: 'refusal', refusal: 'No more.'},
      ],
    })
    assert.deepEqual(plan.input[3], {
      type: 'reasoning',
      id: 'rs_9',
      summary: [{type: 'summary_text', text: 'thinking'}],
      encrypted_content: 'gAAAA',
    })
  })

  it("decodes a request shaped like Codex CLI's", () => {
    const shell = {
      type: 'object',
      properties: {
        command: {type: 'array', items: {type: 'string'}},
        workdir: {type: 'string'},
        timeout_ms: {type: 'number'},
      },
      required: ['command'],
      additionalProperties: false,
    }
    const patch = {
      type: 'object',
      properties: {input: {type: 'string'}},
      required: ['input'],
      additionalProperties: false,
    }
    const plan = decode({
      model: 'gpt-5-codex',
      instructions: 'You are Codex, a coding agent.',
      input: [
        {
          type: 'message',
          role: 'developer',
          content: [{type: 'input_text', text: '<permissions instructions>sandboxed</permissions instructions>'}],
        },
        {
          type: 'message',
          role: 'user',
          content: [{type: 'input_text', text: '<environment_context><cwd>/repo</cwd></environment_context>'}],
        },
        {type: 'message', role: 'user', content: [{type: 'input_text', text: 'list the files'}]},
        {
          type: 'reasoning',
          id: 'rs_1',
          summary: [{type: 'summary_text', text: '**Listing files**'}],
          encrypted_content: 'gAAAAABencrypted',
        },
        {type: 'function_call', id: 'fc_1', name: 'shell', arguments: '{"command":["ls"]}', call_id: 'call_1'},
        {type: 'function_call_output', call_id: 'call_1', output: 'a.txt\nb.txt\n'},
        {type: 'message', role: 'assistant', content: [{type: 'output_text', text: 'Two files.'}]},
        {type: 'message', role: 'user', content: [{type: 'input_text', text: 'thanks'}]},
      ],
      tools: [
        {
          type: 'function',
          name: 'shell',
          description: 'Runs a shell command and returns its output.',
          strict: false,
          parameters: shell,
        },
        {
          type: 'function',
          name: 'update_plan',
          description: 'Updates the task plan.',
          strict: false,
          parameters: {
            type: 'object',
            properties: {plan: {type: 'array', items: {type: 'object'}}},
            required: ['plan'],
            additionalProperties: false,
          },
        },
        {type: 'function', name: 'apply_patch', description: 'Edits files.', strict: false, parameters: patch},
      ],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      reasoning: {effort: 'medium', summary: 'auto'},
      store: false,
      stream: true,
      include: ['reasoning.encrypted_content'],
      prompt_cache_key: '5f0c1f7e-8a63-4d8b-9d2e-2f1d7b0b6c11',
      text: {verbosity: 'medium'},
    })
    assert.deepEqual([plan.stream, plan.store], [true, false])
    assert.deepEqual(plan.chat.messages, [
      {role: 'system', content: 'You are Codex, a coding agent.'},
      {role: 'developer', content: '<permissions instructions>sandboxed</permissions instructions>'},
      {role: 'user', content: '<environment_context><cwd>/repo</cwd></environment_context>'},
      {role: 'user', content: 'list the files'},
      {
        role: 'assistant',
        content: null,
        tool_calls: [{id: 'call_1', type: 'function', function: {name: 'shell', arguments: '{"command":["ls"]}'}}],
      },
      {role: 'tool', tool_call_id: 'call_1', content: 'a.txt\nb.txt\n'},
      {role: 'assistant', content: 'Two files.'},
      {role: 'user', content: 'thanks'},
    ])
    assert.deepEqual(
      (plan.chat.tools as Array<{function: {name: string}}>).map((t) => t.function.name),
      ['shell', 'update_plan', 'apply_patch'],
    )
    assert.deepEqual(
      [
        plan.chat.tool_choice,
        plan.chat.parallel_tool_calls,
        plan.chat.reasoning_effort,
        plan.chat.verbosity,
        plan.chat.prompt_cache_key,
      ],
      ['auto', false, 'medium', 'medium', '5f0c1f7e-8a63-4d8b-9d2e-2f1d7b0b6c11'],
    )
    assert.equal('include' in plan.chat, false)
    assert.equal('store' in plan.chat, false)
    assert.equal(plan.input.length, 8)
  })

  const history = (): ResponsesHistory => {
    const responses = new Map<string, {input: InputItem[]; output: OutputItem[]}>()
    const first = {
      input: [userText('msg_u1', 'My name is Ada.')],
      output: [
        {
          type: 'message',
          id: 'msg_a1',
          role: 'assistant',
          status: 'completed',
          content: [{type: 'output_text', text: 'Hi Ada!', annotations: [], logprobs: []}],
        },
      ] as OutputItem[],
    }
    responses.set('resp_1', first)
    const second = {
      input: [...first.input, ...first.output, userText('msg_u2', 'Weather?')],
      output: [
        {
          type: 'function_call',
          id: 'fc_a2',
          call_id: 'call_w',
          name: 'get_weather',
          arguments: '{}',
          status: 'completed',
        },
      ] as OutputItem[],
    }
    responses.set('resp_2', second)
    const items = new Map<string, InputItem | OutputItem>([...second.input, ...second.output].map((i) => [i.id, i]))
    return {response: (id) => responses.get(id), item: (id) => items.get(id)}
  }

  it("continues a previous_response_id chain: stored input + output + new input; this call's instructions only", () => {
    const plan = decode(
      {
        model: 'm',
        previous_response_id: 'resp_2',
        instructions: 'Answer in French.',
        input: [{type: 'function_call_output', call_id: 'call_w', output: 'sunny'}],
      },
      history(),
    )
    assert.deepEqual(plan.chat.messages, [
      {role: 'system', content: 'Answer in French.'},
      {role: 'user', content: 'My name is Ada.'},
      {role: 'assistant', content: 'Hi Ada!'},
      {role: 'user', content: 'Weather?'},
      {
        role: 'assistant',
        content: null,
        tool_calls: [{id: 'call_w', type: 'function', function: {name: 'get_weather', arguments: '{}'}}],
      },
      {role: 'tool', tool_call_id: 'call_w', content: 'sunny'},
    ])
    assert.deepEqual(
      plan.input.map((i) => i.id),
      ['msg_u1', 'msg_a1', 'msg_u2', 'fc_a2', 'fco_1'],
    )
    assert.equal(plan.echo.previous_response_id, 'resp_2')
  })

  it('resolves item_reference through the store (with or without a type)', () => {
    const plan = decode(
      {model: 'm', input: [{type: 'item_reference', id: 'msg_a1'}, {id: 'msg_u2'}, {role: 'user', content: 'again'}]},
      history(),
    )
    assert.deepEqual(plan.chat.messages, [
      {role: 'assistant', content: 'Hi Ada!'},
      {role: 'user', content: 'Weather?'},
      {role: 'user', content: 'again'},
    ])
    assert.deepEqual(
      plan.input.map((i) => i.id),
      ['msg_a1', 'msg_u2', 'msg_1'],
    )
  })
})
