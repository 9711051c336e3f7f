import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {describe, it} from 'node:test'

import {decodeCountTokensRequest, decodeMessagesRequest} from '../../../src/daemon/protocols/anthropic/request.js'
import {InvalidRequestError} from '../../../src/daemon/protocols/errors.js'
import {assertSchema} from '../../helpers/openapi.js'

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/** A valid body with `extra` merged in. */
const body = (extra: Record<string, unknown> = {}) => ({model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{role: 'user', content: 'Hi'}], ...extra})

/** The chat request of a body; it must be a valid OpenAI chat request. */
const chatOf = (extra: Record<string, unknown> = {}) => {
  const {chat} = decodeMessagesRequest(body(extra))
  assertSchema('CreateChatCompletionRequest', chat)
  return chat
}

const messagesOf = (messages: unknown[], extra: Record<string, unknown> = {}) => chatOf({messages, ...extra}).messages

/** A 400 naming `param`, whose message starts with it (Anthropic's error body has no param field). */
const bad = (param: string, message?: string) => (e: unknown) => {
  assert.ok(e instanceof InvalidRequestError, `expected InvalidRequestError, got ${String(e)}`)
  assert.equal(e.status, 400)
  assert.equal(e.param, param)
  if (message === undefined) assert.ok(e.message.startsWith(`${param}: `), e.message)
  else assert.equal(e.message, message)
  return true
}

const tool = (name: string, properties: Record<string, unknown> = {x: {type: 'string'}}) => ({
  name,
  description: `${name} tool`,
  input_schema: {$schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties, required: Object.keys(properties), additionalProperties: false},
})

describe('Anthropic request → chat: the basics', () => {
  it('maps a minimal request: max_tokens → max_completion_tokens, the model as asked, no stream fields', () => {
    const plan = decodeMessagesRequest(body())
    assert.deepEqual(plan.chat, {model: 'claude-sonnet-4-5', messages: [{role: 'user', content: 'Hi'}], max_completion_tokens: 1024})
    assert.equal(plan.model, 'claude-sonnet-4-5')
    assert.equal(plan.stream, false)
    assert.deepEqual(plan.echo, {model: 'claude-sonnet-4-5', toolNames: new Map(), stopSequences: [], thinking: false})
    assert.equal(decodeMessagesRequest(body({stream: true})).stream, true)
    assert.equal('stream' in decodeMessagesRequest(body({stream: true})).chat, false)
  })

  it('joins system text blocks into one leading system message, drops cache_control and the billing header', () => {
    const system = [
      {type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.88.a3f; cc_entrypoint=cli; cch=93b1c;'},
      {type: 'text', text: "You are Claude Code, Anthropic's official CLI for Claude.", cache_control: {type: 'ephemeral'}},
      {type: 'text', text: 'Be brief.', cache_control: {type: 'ephemeral', ttl: '1h'}},
    ]
    assert.deepEqual(chatOf({system}).messages, [
      {role: 'system', content: "You are Claude Code, Anthropic's official CLI for Claude.\n\nBe brief."},
      {role: 'user', content: 'Hi'},
    ])
    assert.deepEqual(chatOf({system: 'Be brief.'}).messages[0], {role: 'system', content: 'Be brief.'})
    assert.deepEqual(chatOf({system: 'x-anthropic-billing-header: cc_version=1;\nBe brief.'}).messages[0], {role: 'system', content: 'Be brief.'})
    assert.deepEqual(chatOf({system: [{type: 'text', text: 'x-anthropic-billing-header: cch=1;'}]}).messages, [{role: 'user', content: 'Hi'}])
    assert.deepEqual(chatOf({system: ''}).messages, [{role: 'user', content: 'Hi'}])
  })

  it('merges same-role runs; one text stays a string, several blocks become parts', () => {
    assert.deepEqual(
      messagesOf([
        {role: 'user', content: 'a'},
        {role: 'user', content: [{type: 'text', text: 'b', cache_control: {type: 'ephemeral'}}]},
        {role: 'assistant', content: 'c'},
        {role: 'assistant', content: [{type: 'text', text: 'd'}]},
        {role: 'user', content: [{type: 'text', text: 'e'}]},
      ]),
      [
        {role: 'user', content: [{type: 'text', text: 'a'}, {type: 'text', text: 'b'}]},
        {role: 'assistant', content: 'c\n\nd'},
        {role: 'user', content: 'e'},
      ],
    )
  })

  it('keeps a system message inside messages (the SDK types allow it) in place', () => {
    assert.deepEqual(messagesOf([{role: 'user', content: 'a'}, {role: 'system', content: [{type: 'text', text: 's'}]}, {role: 'user', content: 'b'}]), [
      {role: 'user', content: 'a'},
      {role: 'system', content: 's'},
      {role: 'user', content: 'b'},
    ])
  })

  it('turns images into image_url parts: base64 → data URL, url as is', () => {
    const content = [
      {type: 'image', source: {type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo='}},
      {type: 'image', source: {type: 'url', url: 'https://example.com/cat.jpg'}, cache_control: {type: 'ephemeral'}},
      {type: 'text', text: 'What are these?'},
    ]
    assert.deepEqual(messagesOf([{role: 'user', content}]), [
      {
        role: 'user',
        content: [
          {type: 'image_url', image_url: {url: 'data:image/png;base64,iVBORw0KGgo='}},
          {type: 'image_url', image_url: {url: 'https://example.com/cat.jpg'}},
          {type: 'text', text: 'What are these?'},
        ],
      },
    ])
  })

  it('turns documents into parts: a base64 PDF → a file part, text and content sources → text', () => {
    const content = [
      {type: 'document', source: {type: 'base64', media_type: 'application/pdf', data: 'JVBERi0='}, title: 'report.pdf'},
      {type: 'document', source: {type: 'base64', media_type: 'application/pdf', data: 'JVBERi1='}},
      {type: 'document', source: {type: 'text', media_type: 'text/plain', data: 'plain body'}, title: 'Notes', context: 'from the wiki'},
      {type: 'document', source: {type: 'content', content: [{type: 'text', text: 'inner'}]}},
      {type: 'document', source: {type: 'content', content: 'inner string'}},
    ]
    assert.deepEqual(messagesOf([{role: 'user', content}])[0]!.content, [
      {type: 'file', file: {filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0='}},
      {type: 'file', file: {filename: 'document.pdf', file_data: 'data:application/pdf;base64,JVBERi1='}},
      {type: 'text', text: 'Notes\n\nfrom the wiki\n\nplain body'},
      {type: 'text', text: 'inner'},
      {type: 'text', text: 'inner string'},
    ])
  })

  it('passes temperature and top_p, accepts and drops top_k and the extras chat has no counterpart for', () => {
    const chat = chatOf({
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      context_management: {edits: [{type: 'clear_tool_uses_20250919'}]},
      container: 'container_1',
      service_tier: 'auto',
      cache_control: {type: 'ephemeral'},
      speed: 'fast',
      inference_geo: 'us',
    })
    assert.deepEqual(chat, {model: 'claude-sonnet-4-5', messages: [{role: 'user', content: 'Hi'}], max_completion_tokens: 1024, temperature: 0.2, top_p: 0.9})
  })

  it('maps stop_sequences to stop (at most 4) and echoes them', () => {
    const plan = decodeMessagesRequest(body({stop_sequences: ['\n\nHuman:', 'END']}))
    assert.deepEqual(plan.chat.stop, ['\n\nHuman:', 'END'])
    assert.deepEqual(plan.echo.stopSequences, ['\n\nHuman:', 'END'])
    assert.equal('stop' in chatOf({stop_sequences: []}), false)
    assert.throws(() => decodeMessagesRequest(body({stop_sequences: ['a', 'b', 'c', 'd', 'e']})), bad('stop_sequences'))
  })

  it('maps output_config.format (and the older output_format) to a json_schema response_format', () => {
    const schema = {type: 'object', properties: {answer: {type: 'string'}}, required: ['answer'], additionalProperties: false}
    const expected = {type: 'json_schema', json_schema: {name: 'output', schema}}
    assert.deepEqual(chatOf({output_config: {format: {type: 'json_schema', schema}}}).response_format, expected)
    assert.deepEqual(chatOf({output_format: {type: 'json_schema', schema}}).response_format, expected)
    assert.throws(() => decodeMessagesRequest(body({output_config: {format: {type: 'xml'}}})), bad('output_config.format.type'))
  })
})

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
    assert.deepEqual(choice({type: 'tool', name: 'b', disable_parallel_tool_use: false}), [{type: 'function', function: {name: 'b'}}, undefined])
    assert.deepEqual(choice({type: 'none'}), ['none', undefined])
    assert.deepEqual(choice({type: 'auto', disable_parallel_tool_use: true}), ['auto', false])
    // chat refuses tool_choice and parallel_tool_calls without tools
    const bare = chatOf({tool_choice: {type: 'auto', disable_parallel_tool_use: true}})
    assert.equal('tool_choice' in bare || 'parallel_tool_calls' in bare, false)
    assert.throws(() => decodeMessagesRequest(body({tools, tool_choice: {type: 'tool', name: 'c'}})), bad('tool_choice.name', "tool_choice.name: Tool 'c' not found in tools"))
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
    assert.deepEqual([...plan.echo.toolNames], [[longShort, long], [dottedShort, dotted]])
    assertSchema('CreateChatCompletionRequest', plan.chat)
  })

  it('refuses server tools naming tools[i], and tools without a schema', () => {
    assert.throws(() => decodeMessagesRequest(body({tools: [tool('a'), {type: 'web_search_20250305', name: 'web_search', max_uses: 5}]})), bad('tools[1]'))
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
        {type: 'tool_result', tool_use_id: 'toolu_b', content: [{type: 'text', text: 'rain'}, {type: 'text', text: 'cold'}]},
      ],
    }
    assert.deepEqual(messagesOf([{role: 'user', content: 'Weather?'}, assistant, results], {tools: [tool('get_weather')]}), [
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
    ])
    assert.deepEqual(messagesOf([{role: 'user', content: 'x'}, {role: 'assistant', content: [{type: 'tool_use', id: 't', name: 'f', input: {}}]}, {role: 'user', content: [{type: 'tool_result', tool_use_id: 't'}]}])[1], {
      role: 'assistant',
      content: null,
      tool_calls: [{id: 't', type: 'function', function: {name: 'f', arguments: '{}'}}],
    })
    // an assistant turn of thinking only leaves nothing
    assert.deepEqual(messagesOf([{role: 'user', content: 'x'}, {role: 'assistant', content: [{type: 'thinking', thinking: 'hm', signature: 's'}]}]), [{role: 'user', content: 'x'}])
  })

  it('puts tool results before the turn’s other blocks, prefixes errors, moves result images into a following user message', () => {
    const turn = {
      role: 'user',
      content: [
        {type: 'text', text: '<system-reminder>Files changed.</system-reminder>'},
        {type: 'tool_result', tool_use_id: 'toolu_1', content: 'command not found', is_error: true},
        {type: 'tool_result', tool_use_id: 'toolu_2', content: [{type: 'text', text: 'screenshot:'}, {type: 'image', source: {type: 'base64', media_type: 'image/jpeg', data: 'AAA='}}]},
        {type: 'tool_result', tool_use_id: 'toolu_3', content: [{type: 'image', source: {type: 'url', url: 'https://example.com/a.png'}}]},
        {type: 'tool_result', tool_use_id: 'toolu_4', content: '', is_error: true},
      ],
    }
    assert.deepEqual(messagesOf([turn]), [
      {role: 'tool', tool_call_id: 'toolu_1', content: 'Error: command not found'},
      {role: 'tool', tool_call_id: 'toolu_2', content: 'screenshot:'},
      {role: 'tool', tool_call_id: 'toolu_3', content: '(the tool returned 1 image or file part(s); they follow in the next message)'},
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

describe('Anthropic request → chat: thinking, metadata, count_tokens', () => {
  it('maps thinking to reasoning_effort: budgets bucketed, adaptive takes output_config.effort, disabled → none', () => {
    const effort = (extra: Record<string, unknown>) => {
      const plan = decodeMessagesRequest(body({max_tokens: 64_000, ...extra}))
      assertSchema('CreateChatCompletionRequest', plan.chat)
      return [plan.chat.reasoning_effort, plan.echo.thinking]
    }

    assert.deepEqual(effort({thinking: {type: 'enabled', budget_tokens: 1024}}), ['low', true])
    assert.deepEqual(effort({thinking: {type: 'enabled', budget_tokens: 4095}}), ['low', true])
    assert.deepEqual(effort({thinking: {type: 'enabled', budget_tokens: 4096}}), ['medium', true])
    assert.deepEqual(effort({thinking: {type: 'enabled', budget_tokens: 10_000}}), ['medium', true])
    assert.deepEqual(effort({thinking: {type: 'enabled', budget_tokens: 16_384}}), ['high', true])
    assert.deepEqual(effort({thinking: {type: 'enabled', budget_tokens: 31_999}}), ['high', true])
    assert.deepEqual(effort({thinking: {type: 'enabled', budget_tokens: 31_999}, output_config: {effort: 'low'}}), ['low', true])
    assert.deepEqual(effort({thinking: {type: 'adaptive'}, output_config: {effort: 'xhigh'}}), ['xhigh', true])
    assert.deepEqual(effort({thinking: {type: 'adaptive'}}), [undefined, true])
    assert.deepEqual(effort({thinking: {type: 'adaptive', display: 'omitted'}, output_config: {effort: 'max'}}), ['max', false])
    assert.deepEqual(effort({thinking: {type: 'disabled'}, output_config: {effort: 'high'}}), ['none', false])
    assert.deepEqual(effort({output_config: {effort: 'medium'}}), ['medium', false])
    assert.deepEqual(effort({}), [undefined, false])
    assert.throws(() => decodeMessagesRequest(body({thinking: {type: 'sometimes'}})), bad('thinking.type'))
    assert.throws(() => decodeMessagesRequest(body({thinking: {type: 'enabled'}})), bad('thinking.budget_tokens'))
    assert.throws(() => decodeMessagesRequest(body({output_config: {effort: 'extreme'}})), bad('output_config.effort'))
  })

  it('maps metadata.user_id to a hashed safety_identifier and the session to prompt_cache_key (both Claude Code formats)', () => {
    const user = 'user_9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08_account_2c1f5e4a-1111-4a4a-9b9b-0123456789ab'
    const session = '7d3f9c2e-5b1a-4c8e-9f0d-abcdef012345'
    const legacy = chatOf({metadata: {user_id: `${user}_session_${session}`}})
    assert.deepEqual([legacy.safety_identifier, legacy.prompt_cache_key], [sha256(user), session])
    const json = chatOf({metadata: {user_id: JSON.stringify({device_id: 'dev1', account_uuid: '', session_id: session})}})
    assert.deepEqual([json.safety_identifier, json.prompt_cache_key], [sha256(JSON.stringify(['dev1', ''])), session])
    const plain = chatOf({metadata: {user_id: 'alice@example.com'}})
    assert.deepEqual([plain.safety_identifier, plain.prompt_cache_key], [sha256('alice@example.com'), undefined])
    assert.equal((plain.safety_identifier as string).length, 64)
    assert.equal('user' in plain, false)
    assert.equal('safety_identifier' in chatOf({metadata: {}}), false)
    assert.equal('safety_identifier' in chatOf({metadata: {user_id: null}}), false)
    assert.throws(() => decodeMessagesRequest(body({metadata: {user_id: 7}})), bad('metadata.user_id'))
  })

  it('decodes a count_tokens body without max_tokens into the same chat request, without a token limit', () => {
    const plan = decodeCountTokensRequest({model: 'claude-haiku-4-5', system: 'S', messages: [{role: 'user', content: 'Hi'}], tools: [tool('a')]})
    assert.deepEqual(plan.chat.messages, [{role: 'system', content: 'S'}, {role: 'user', content: 'Hi'}])
    assert.equal('max_completion_tokens' in plan.chat, false)
    assert.equal((plan.chat.tools as unknown[]).length, 1)
    assert.throws(() => decodeCountTokensRequest({model: 'm', messages: []}), bad('messages'))
  })
})

describe('Anthropic request → chat: refusals name the parameter', () => {
  it('validates the top level', () => {
    assert.throws(() => decodeMessagesRequest({model: 'm', messages: [{role: 'user', content: 'x'}]}), bad('max_tokens', 'max_tokens: Field required'))
    assert.throws(() => decodeMessagesRequest(body({max_tokens: 1.5})), bad('max_tokens'))
    assert.throws(() => decodeMessagesRequest(body({max_tokens: '10'})), bad('max_tokens'))
    assert.throws(() => decodeMessagesRequest(body({max_tokens: 0})), bad('max_tokens'))
    assert.throws(() => decodeMessagesRequest({max_tokens: 5, messages: [{role: 'user', content: 'x'}]}), bad('model', 'model: Field required'))
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
    assert.throws(() => decodeMessagesRequest(body({messages: [{role: 'tool', content: 'x'}]})), bad('messages[0].role'))
    assert.throws(() => decodeMessagesRequest(body({messages: [{role: 'user'}]})), bad('messages[0].content'))
    assert.throws(() => decodeMessagesRequest(body({messages: [{role: 'user', content: 5}]})), bad('messages[0].content'))
    assert.throws(() => decodeMessagesRequest(body({messages: [{role: 'user', content: [{text: 'no type'}]}]})), bad('messages[0].content[0]'))
    const user = (content: unknown[]) => body({messages: [{role: 'user', content}]})
    assert.throws(() => decodeMessagesRequest(user([{type: 'text'}])), bad('messages[0].content[0].text'))
    assert.throws(() => decodeMessagesRequest(user([{type: 'text', text: 'a'}, {type: 'tool_use', id: 'x', name: 'f', input: {}}])), bad('messages[0].content[1].type'))
    assert.throws(() => decodeMessagesRequest(user([{type: 'image', source: {type: 'file', file_id: 'file_1'}}])), bad('messages[0].content[0].source.type'))
    assert.throws(() => decodeMessagesRequest(user([{type: 'document', source: {type: 'url', url: 'https://example.com/a.pdf'}}])), bad('messages[0].content[0].source.type'))
    assert.throws(() => decodeMessagesRequest(user([{type: 'document', source: {type: 'base64', media_type: 'text/html', data: 'x'}}])), bad('messages[0].content[0].source.media_type'))
    assert.throws(() => decodeMessagesRequest(user([{type: 'tool_result', content: 'x'}])), bad('messages[0].content[0].tool_use_id'))
    assert.throws(() => decodeMessagesRequest(user([{type: 'tool_result', tool_use_id: 't', content: [{type: 'search_result'}]}])), bad('messages[0].content[0].content[0].type'))
    assert.throws(() => decodeMessagesRequest(user([{type: 'server_tool_use', id: 's', name: 'web_search', input: {}}])), bad('messages[0].content[0].type'))
    const assistant = (content: unknown[]) => body({messages: [{role: 'user', content: 'x'}, {role: 'assistant', content}]})
    assert.throws(() => decodeMessagesRequest(assistant([{type: 'image', source: {type: 'url', url: 'https://x'}}])), bad('messages[1].content[0].type'))
    assert.throws(() => decodeMessagesRequest(assistant([{type: 'tool_use', name: 'f', input: {}}])), bad('messages[1].content[0].id'))
  })
})

/** A request as Claude Code sends it (shapes from 2.1.x captures), trimmed to what matters here. */
function claudeCodeRequest() {
  const names = ['Task', 'Bash', 'Glob', 'Grep', 'LS', 'ExitPlanMode', 'Read', 'Edit', 'MultiEdit', 'Write', 'NotebookEdit', 'WebFetch', 'TodoWrite', 'WebSearch', 'BashOutput', 'KillShell', 'SlashCommand']
  const mcp = ['mcp__ide__getDiagnostics', 'mcp__github__create_pull_request']
  return {
    model: 'claude-sonnet-4-5-20250929',
    max_tokens: 32_000,
    stream: true,
    system: [
      {type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.88.a3f; cc_entrypoint=cli; cch=5e1f0;'},
      {type: 'text', text: "You are Claude Code, Anthropic's official CLI for Claude.", cache_control: {type: 'ephemeral'}},
      {type: 'text', text: 'You are an interactive CLI tool that helps users with software engineering tasks.', cache_control: {type: 'ephemeral'}},
    ],
    tools: [...names, ...mcp].map((name) => tool(name, {command: {type: 'string', description: 'what to run'}, timeout: {type: 'number'}})),
    messages: [
      {
        role: 'user',
        content: [
          {type: 'text', text: '<system-reminder>As you answer the user, use this context.</system-reminder>'},
          {type: 'text', text: 'List the files here', cache_control: {type: 'ephemeral'}},
        ],
      },
      {
        role: 'assistant',
        content: [
          {type: 'thinking', thinking: 'The user wants a listing.', signature: 'EqQBCkYIBxgCKkD'},
          {type: 'text', text: "I'll list them."},
          {type: 'tool_use', id: 'toolu_01A', name: 'Bash', input: {command: 'ls', timeout: 5}},
        ],
      },
      {
        role: 'user',
        content: [
          {type: 'tool_result', tool_use_id: 'toolu_01A', content: 'a.txt\nb.txt', cache_control: {type: 'ephemeral'}},
          {type: 'text', text: '<system-reminder>The TodoWrite tool hasn\'t been used recently.</system-reminder>'},
        ],
      },
    ],
    thinking: {type: 'adaptive'},
    output_config: {effort: 'high'},
    context_management: {edits: [{type: 'clear_thinking_20251015', keep: 'all'}]},
    metadata: {user_id: 'user_1a2b3c_account_0f0e0d0c-0000-4000-8000-000000000001_session_5a5b5c5d-0000-4000-8000-000000000002'},
  }
}

describe('a request shaped like Claude Code’s', () => {
  it('decodes into a valid chat request with the billing header gone, tools kept and the tool result first', () => {
    const request = claudeCodeRequest()
    const plan = decodeMessagesRequest(request)
    assertSchema('CreateChatCompletionRequest', plan.chat)
    assert.equal(plan.stream, true)
    assert.deepEqual(plan.echo, {model: 'claude-sonnet-4-5-20250929', toolNames: new Map(), stopSequences: [], thinking: true})
    const {messages, tools, ...rest} = plan.chat
    assert.deepEqual(rest, {
      model: 'claude-sonnet-4-5-20250929',
      max_completion_tokens: 32_000,
      reasoning_effort: 'high',
      safety_identifier: sha256('user_1a2b3c_account_0f0e0d0c-0000-4000-8000-000000000001'),
      prompt_cache_key: '5a5b5c5d-0000-4000-8000-000000000002',
    })
    assert.deepEqual(messages, [
      {role: 'system', content: "You are Claude Code, Anthropic's official CLI for Claude.\n\nYou are an interactive CLI tool that helps users with software engineering tasks."},
      {role: 'user', content: [{type: 'text', text: '<system-reminder>As you answer the user, use this context.</system-reminder>'}, {type: 'text', text: 'List the files here'}]},
      {role: 'assistant', content: "I'll list them.", tool_calls: [{id: 'toolu_01A', type: 'function', function: {name: 'Bash', arguments: '{"command":"ls","timeout":5}'}}]},
      {role: 'tool', tool_call_id: 'toolu_01A', content: 'a.txt\nb.txt'},
      {role: 'user', content: "<system-reminder>The TodoWrite tool hasn't been used recently.</system-reminder>"},
    ])
    const chatTools = tools as Array<{type: string; function: {name: string; parameters: unknown}}>
    assert.equal(chatTools.length, 19)
    assert.deepEqual(
      chatTools.map((t) => t.function.name),
      request.tools.map((t) => t.name),
    )
    assert.deepEqual(chatTools[18], {type: 'function', function: {name: 'mcp__github__create_pull_request', description: 'mcp__github__create_pull_request tool', parameters: request.tools[18]!.input_schema}})
  })

  it('gives the same chat request for the next request, whose billing header changed (the upstream prefix cache can hit)', () => {
    const first = claudeCodeRequest()
    const second = claudeCodeRequest()
    second.system[0]!.text = 'x-anthropic-billing-header: cc_version=2.1.88.a3f; cc_entrypoint=cli; cch=77d02;'
    assert.deepEqual(decodeMessagesRequest(second).chat, decodeMessagesRequest(first).chat)
  })
})
