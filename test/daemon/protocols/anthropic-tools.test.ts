import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {decodeMessagesRequest} from '../../../src/daemon/protocols/anthropic/request.js'
import {bad, body, chatOf, messagesOf, sha256, tool} from '../../helpers/anthropic.js'
import {assertSchema} from '../../helpers/openapi.js'

describe('Anthropic request → chat: tools and tool turns', () => {
  it('maps tools to function tools, keeping the schema as sent', () => {
    const t = tool('get_weather', {city: {type: 'string'}})
    assert.deepEqual(chatOf({tools: [{...t, cache_control: {type: 'ephemeral'}, type: 'custom'}]}).tools, [
      {type: 'function', function: {name: 'get_weather', description: 'get_weather tool', parameters: t.input_schema}},
    ])
  })

  it('maps tool_choice auto / any / tool / none and disable_parallel_tool_use', () => {
    const tools = [tool('a'), tool('b')]
    const choice = (tool_choice: unknown) => {
      const chat = chatOf({tools, tool_choice})
      return [chat.tool_choice, chat.parallel_tool_calls]
    }

    assert.deepEqual(choice({type: 'auto'}), ['auto', undefined])
    assert.deepEqual(choice({type: 'any', disable_parallel_tool_use: true}), ['required', false])
    assert.deepEqual(choice({type: 'tool', name: 'b', disable_parallel_tool_use: false}), [
      {type: 'function', function: {name: 'b'}},
      undefined,
    ])
    assert.deepEqual(choice({type: 'none'}), ['none', undefined])
    assert.deepEqual(choice({type: 'auto', disable_parallel_tool_use: true}), ['auto', false])
    // chat refuses tool_choice and parallel_tool_calls without tools
    const bare = chatOf({tool_choice: {type: 'auto', disable_parallel_tool_use: true}})
    assert.equal('tool_choice' in bare || 'parallel_tool_calls' in bare, false)
    assert.throws(
      () => decodeMessagesRequest(body({tools, tool_choice: {type: 'tool', name: 'c'}})),
      bad('tool_choice.name', "tool_choice.name: Tool 'c' not found in tools"),
    )
    assert.throws(() => decodeMessagesRequest(body({tools, tool_choice: {type: 'sometimes'}})), bad('tool_choice.type'))
  })

  it('shortens names chat refuses, maps history and tool_choice to the same name, and records the way back', () => {
    const long = `mcp__${'very_long_server_name_'.repeat(3)}__search_everything_everywhere`
    const dotted = 'my.tool'
    const plan = decodeMessagesRequest(
      body({
        tools: [tool('mcp__github__create_issue'), tool(long), tool(dotted)],
        tool_choice: {type: 'tool', name: dotted},
        messages: [
          {role: 'user', content: 'go'},
          {role: 'assistant', content: [{type: 'tool_use', id: 'toolu_1', name: dotted, input: {x: '1'}}]},
          {role: 'user', content: [{type: 'tool_result', tool_use_id: 'toolu_1', content: 'ok'}]},
        ],
      }),
    )
    const longShort = `${long.slice(0, 55)}_${sha256(long).slice(0, 8)}`
    const dottedShort = `my_tool_${sha256(dotted).slice(0, 8)}`
    assert.equal(longShort.length, 64)
    assert.deepEqual(
      (plan.chat.tools as Array<{function: {name: string}}>).map((t) => t.function.name),
      ['mcp__github__create_issue', longShort, dottedShort],
    )
    assert.deepEqual(plan.chat.tool_choice, {type: 'function', function: {name: dottedShort}})
    assert.equal(plan.chat.messages[1]!.tool_calls![0]!.function.name, dottedShort)
    assert.deepEqual(
      [...plan.echo.toolNames],
      [
        [longShort, long],
        [dottedShort, dotted],
      ],
    )
    assertSchema('CreateChatCompletionRequest', plan.chat)
  })

  it('refuses server tools naming tools[i], and tools without a schema', () => {
    assert.throws(
      () =>
        decodeMessagesRequest(
          body({tools: [tool('a'), {type: 'web_search_20250305', name: 'web_search', max_uses: 5}]}),
        ),
      bad('tools[1]'),
    )
    assert.throws(() => decodeMessagesRequest(body({tools: [{type: 'bash_20250124', name: 'bash'}]})), bad('tools[0]'))
    assert.throws(() => decodeMessagesRequest(body({tools: [{name: 'a'}]})), bad('tools[0].input_schema'))
    assert.throws(() => decodeMessagesRequest(body({tools: [{input_schema: {type: 'object'}}]})), bad('tools[0].name'))
    assert.throws(() => decodeMessagesRequest(body({tools: {}})), bad('tools'))
  })

  it('turns assistant tool_use blocks into one message with tool_calls and its text as content; drops thinking', () => {
    const assistant = {
      role: 'assistant',
      content: [
        {type: 'thinking', thinking: 'hmm', signature: 'sig'},
        {type: 'redacted_thinking', data: 'xyz'},
        {type: 'text', text: 'Checking both.'},
        {type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: {city: 'Paris'}},
        {type: 'tool_use', id: 'toolu_b', name: 'get_weather', input: {}, cache_control: {type: 'ephemeral'}},
      ],
    }
    const results = {
      role: 'user',
      content: [
        {type: 'tool_result', tool_use_id: 'toolu_a', content: 'sunny'},
        {
          type: 'tool_result',
          tool_use_id: 'toolu_b',
          content: [
            {type: 'text', text: 'rain'},
            {type: 'text', text: 'cold'},
          ],
        },
      ],
    }
    assert.deepEqual(
      messagesOf([{role: 'user', content: 'Weather?'}, assistant, results], {tools: [tool('get_weather')]}),
      [
        {role: 'user', content: 'Weather?'},
        {
          role: 'assistant',
          content: 'Checking both.',
          tool_calls: [
            {id: 'toolu_a', type: 'function', function: {name: 'get_weather', arguments: '{"city":"Paris"}'}},
            {id: 'toolu_b', type: 'function', function: {name: 'get_weather', arguments: '{}'}},
          ],
        },
        {role: 'tool', tool_call_id: 'toolu_a', content: 'sunny'},
        {role: 'tool', tool_call_id: 'toolu_b', content: 'rain\n\ncold'},
      ],
    )
    assert.deepEqual(
      messagesOf([
        {role: 'user', content: 'x'},
        {role: 'assistant', content: [{type: 'tool_use', id: 't', name: 'f', input: {}}]},
        {role: 'user', content: [{type: 'tool_result', tool_use_id: 't'}]},
      ])[1],
      {
        role: 'assistant',
        content: null,
        tool_calls: [{id: 't', type: 'function', function: {name: 'f', arguments: '{}'}}],
      },
    )
    // an assistant turn of thinking only leaves nothing
    assert.deepEqual(
      messagesOf([
        {role: 'user', content: 'x'},
        {role: 'assistant', content: [{type: 'thinking', thinking: 'hm', signature: 's'}]},
      ]),
      [{role: 'user', content: 'x'}],
    )
  })

  it('puts tool results before the turn’s other blocks, prefixes errors, moves result images into a following user message', () => {
    const turn = {
      role: 'user',
      content: [
        {type: 'text', text: '<system-reminder>Files changed.</system-reminder>'},
        {type: 'tool_result', tool_use_id: 'toolu_1', content: 'command not found', is_error: true},
        {
          type: 'tool_result',
          tool_use_id: 'toolu_2',
          content: [
            {type: 'text', text: 'screenshot:'},
            {type: 'image', source: {type: 'base64', media_type: 'image/jpeg', data: 'AAA='}},
          ],
        },
        {
          type: 'tool_result',
          tool_use_id: 'toolu_3',
          content: [{type: 'image', source: {type: 'url', url: 'https://example.com/a.png'}}],
        },
        {type: 'tool_result', tool_use_id: 'toolu_4', content: '', is_error: true},
      ],
    }
    assert.deepEqual(messagesOf([turn]), [
      {role: 'tool', tool_call_id: 'toolu_1', content: 'Error: command not found'},
      {role: 'tool', tool_call_id: 'toolu_2', content: 'screenshot:'},
      {
        role: 'tool',
        tool_call_id: 'toolu_3',
        content: '(the tool returned 1 image or file part(s); they follow in the next message)',
      },
      {role: 'tool', tool_call_id: 'toolu_4', content: 'Error'},
      {
        role: 'user',
        content: [
          {type: 'text', text: 'Content returned by tool call toolu_2:'},
          {type: 'image_url', image_url: {url: 'data:image/jpeg;base64,AAA='}},
          {type: 'text', text: 'Content returned by tool call toolu_3:'},
          {type: 'image_url', image_url: {url: 'https://example.com/a.png'}},
          {type: 'text', text: '<system-reminder>Files changed.</system-reminder>'},
        ],
      },
    ])
  })
})

describe('Anthropic request → chat: refusals name the parameter', () => {
  it('validates the top level', () => {
    assert.throws(
      () => decodeMessagesRequest({model: 'm', messages: [{role: 'user', content: 'x'}]}),
      bad('max_tokens', 'max_tokens: Field required'),
    )
    assert.throws(() => decodeMessagesRequest(body({max_tokens: 1.5})), bad('max_tokens'))
    assert.throws(() => decodeMessagesRequest(body({max_tokens: '10'})), bad('max_tokens'))
    assert.throws(() => decodeMessagesRequest(body({max_tokens: 0})), bad('max_tokens'))
    assert.throws(
      () => decodeMessagesRequest({max_tokens: 5, messages: [{role: 'user', content: 'x'}]}),
      bad('model', 'model: Field required'),
    )
    assert.throws(() => decodeMessagesRequest(body({model: 3})), bad('model'))
    assert.throws(() => decodeMessagesRequest('nope'), bad('body'))
    assert.throws(() => decodeMessagesRequest(body({stream: 'yes'})), bad('stream'))
    assert.throws(() => decodeMessagesRequest(body({temperature: 'hot'})), bad('temperature'))
    assert.throws(() => decodeMessagesRequest(body({top_k: 'many'})), bad('top_k'))
    assert.throws(() => decodeMessagesRequest(body({system: [{type: 'image'}]})), bad('system[0]'))
    assert.throws(() => decodeMessagesRequest(body({stop_sequences: 'END'})), bad('stop_sequences'))
  })

  it('validates messages and blocks', () => {
    assert.throws(() => decodeMessagesRequest(body({messages: []})), bad('messages'))
    assert.throws(() => decodeMessagesRequest(body({messages: undefined})), bad('messages', 'messages: Field required'))
    assert.throws(
      () => decodeMessagesRequest(body({messages: [{role: 'tool', content: 'x'}]})),
      bad('messages[0].role'),
    )
    assert.throws(() => decodeMessagesRequest(body({messages: [{role: 'user'}]})), bad('messages[0].content'))
    assert.throws(
      () => decodeMessagesRequest(body({messages: [{role: 'user', content: 5}]})),
      bad('messages[0].content'),
    )
    assert.throws(
      () => decodeMessagesRequest(body({messages: [{role: 'user', content: [{text: 'no type'}]}]})),
      bad('messages[0].content[0]'),
    )
    const user = (content: unknown[]) => body({messages: [{role: 'user', content}]})
    assert.throws(() => decodeMessagesRequest(user([{type: 'text'}])), bad('messages[0].content[0].text'))
    assert.throws(
      () =>
        decodeMessagesRequest(
          user([
            {type: 'text', text: 'a'},
            {type: 'tool_use', id: 'x', name: 'f', input: {}},
          ]),
        ),
      bad('messages[0].content[1].type'),
    )
    assert.throws(
      () => decodeMessagesRequest(user([{type: 'image', source: {type: 'file', file_id: 'file_1'}}])),
      bad('messages[0].content[0].source.type'),
    )
    assert.throws(
      () => decodeMessagesRequest(user([{type: 'document', source: {type: 'url', url: 'https://example.com/a.pdf'}}])),
      bad('messages[0].content[0].source.type'),
    )
    assert.throws(
      () =>
        decodeMessagesRequest(user([{type: 'document', source: {type: 'base64', media_type: 'text/html', data: 'x'}}])),
      bad('messages[0].content[0].source.media_type'),
    )
    assert.throws(
      () => decodeMessagesRequest(user([{type: 'tool_result', content: 'x'}])),
      bad('messages[0].content[0].tool_use_id'),
    )
    assert.throws(
      () => decodeMessagesRequest(user([{type: 'tool_result', tool_use_id: 't', content: [{type: 'search_result'}]}])),
      bad('messages[0].content[0].content[0].type'),
    )
    assert.throws(
      () => decodeMessagesRequest(user([{type: 'server_tool_use', id: 's', name: 'web_search', input: {}}])),
      bad('messages[0].content[0].type'),
    )
    const assistant = (content: unknown[]) =>
      body({
        messages: [
          {role: 'user', content: 'x'},
          {role: 'assistant', content},
        ],
      })
    assert.throws(
      () => decodeMessagesRequest(assistant([{type: 'image', source: {type: 'url', url: 'https://x'}}])),
      bad('messages[1].content[0].type'),
    )
    assert.throws(
      () => decodeMessagesRequest(assistant([{type: 'tool_use', name: 'f', input: {}}])),
      bad('messages[1].content[0].id'),
    )
  })
})
