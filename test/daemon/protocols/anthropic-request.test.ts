import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {decodeCountTokensRequest, decodeMessagesRequest} from '../../../src/daemon/protocols/anthropic/request.js'
import {bad, body, chatOf, claudeCodeRequest, messagesOf, sha256, tool} from '../../helpers/anthropic.js'
import {assertSchema} from '../../helpers/openapi.js'

describe('Anthropic request → chat: the basics', () => {
  it('maps a minimal request: max_tokens → max_completion_tokens, the model as asked, no stream fields', () => {
    const plan = decodeMessagesRequest(body())
    assert.deepEqual(plan.chat, {
      model: 'claude-sonnet-4-5',
      messages: [{role: 'user', content: 'Hi'}],
      max_completion_tokens: 1024,
    })
    assert.equal(plan.model, 'claude-sonnet-4-5')
    assert.equal(plan.stream, false)
    assert.deepEqual(plan.echo, {model: 'claude-sonnet-4-5', toolNames: new Map(), stopSequences: [], thinking: false})
    assert.equal(decodeMessagesRequest(body({stream: true})).stream, true)
    assert.equal('stream' in decodeMessagesRequest(body({stream: true})).chat, false)
  })

  it('joins system text blocks into one leading system message, drops cache_control and the billing header', () => {
    const system = [
      {type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.88.a3f; cc_entrypoint=cli; cch=93b1c;'},
      {
        type: 'text',
        text: "You are Claude Code, Anthropic's official CLI for Claude.",
        cache_control: {type: 'ephemeral'},
      },
      {type: 'text', text: 'Be brief.', cache_control: {type: 'ephemeral', ttl: '1h'}},
    ]
    assert.deepEqual(chatOf({system}).messages, [
      {role: 'system', content: "You are Claude Code, Anthropic's official CLI for Claude.\n\nBe brief."},
      {role: 'user', content: 'Hi'},
    ])
    assert.deepEqual(chatOf({system: 'Be brief.'}).messages[0], {role: 'system', content: 'Be brief.'})
    assert.deepEqual(chatOf({system: 'x-anthropic-billing-header: cc_version=1;\nBe brief.'}).messages[0], {
      role: 'system',
      content: 'Be brief.',
    })
    assert.deepEqual(chatOf({system: [{type: 'text', text: 'x-anthropic-billing-header: cch=1;'}]}).messages, [
      {role: 'user', content: 'Hi'},
    ])
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
        {
          role: 'user',
          content: [
            {type: 'text', text: 'a'},
            {type: 'text', text: 'b'},
          ],
        },
        {role: 'assistant', content: 'c\n\nd'},
        {role: 'user', content: 'e'},
      ],
    )
  })

  it('keeps a system message inside messages (the SDK types allow it) in place', () => {
    assert.deepEqual(
      messagesOf([
        {role: 'user', content: 'a'},
        {role: 'system', content: [{type: 'text', text: 's'}]},
        {role: 'user', content: 'b'},
      ]),
      [
        {role: 'user', content: 'a'},
        {role: 'system', content: 's'},
        {role: 'user', content: 'b'},
      ],
    )
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
      {
        type: 'document',
        source: {type: 'base64', media_type: 'application/pdf', data: 'JVBERi0='},
        title: 'report.pdf',
      },
      {type: 'document', source: {type: 'base64', media_type: 'application/pdf', data: 'JVBERi1='}},
      {
        type: 'document',
        source: {type: 'text', media_type: 'text/plain', data: 'plain body'},
        title: 'Notes',
        context: 'from the wiki',
      },
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
    assert.deepEqual(chat, {
      model: 'claude-sonnet-4-5',
      messages: [{role: 'user', content: 'Hi'}],
      max_completion_tokens: 1024,
      temperature: 0.2,
      top_p: 0.9,
    })
  })

  it('maps stop_sequences to stop (at most 4) and echoes them', () => {
    const plan = decodeMessagesRequest(body({stop_sequences: ['\n\nHuman:', 'END']}))
    assert.deepEqual(plan.chat.stop, ['\n\nHuman:', 'END'])
    assert.deepEqual(plan.echo.stopSequences, ['\n\nHuman:', 'END'])
    assert.equal('stop' in chatOf({stop_sequences: []}), false)
    assert.throws(() => decodeMessagesRequest(body({stop_sequences: ['a', 'b', 'c', 'd', 'e']})), bad('stop_sequences'))
  })

  it('maps output_config.format (and the older output_format) to a json_schema response_format', () => {
    const schema = {
      type: 'object',
      properties: {answer: {type: 'string'}},
      required: ['answer'],
      additionalProperties: false,
    }
    const expected = {type: 'json_schema', json_schema: {name: 'output', schema}}
    assert.deepEqual(chatOf({output_config: {format: {type: 'json_schema', schema}}}).response_format, expected)
    assert.deepEqual(chatOf({output_format: {type: 'json_schema', schema}}).response_format, expected)
    assert.throws(
      () => decodeMessagesRequest(body({output_config: {format: {type: 'xml'}}})),
      bad('output_config.format.type'),
    )
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
    assert.deepEqual(effort({thinking: {type: 'enabled', budget_tokens: 31_999}, output_config: {effort: 'low'}}), [
      'low',
      true,
    ])
    assert.deepEqual(effort({thinking: {type: 'adaptive'}, output_config: {effort: 'xhigh'}}), ['xhigh', true])
    assert.deepEqual(effort({thinking: {type: 'adaptive'}}), [undefined, true])
    assert.deepEqual(effort({thinking: {type: 'adaptive', display: 'omitted'}, output_config: {effort: 'max'}}), [
      'max',
      false,
    ])
    assert.deepEqual(effort({thinking: {type: 'disabled'}, output_config: {effort: 'high'}}), ['none', false])
    assert.deepEqual(effort({output_config: {effort: 'medium'}}), ['medium', false])
    assert.deepEqual(effort({}), [undefined, false])
    assert.throws(() => decodeMessagesRequest(body({thinking: {type: 'sometimes'}})), bad('thinking.type'))
    assert.throws(() => decodeMessagesRequest(body({thinking: {type: 'enabled'}})), bad('thinking.budget_tokens'))
    assert.throws(() => decodeMessagesRequest(body({output_config: {effort: 'extreme'}})), bad('output_config.effort'))
  })

  it('maps metadata.user_id to a hashed safety_identifier and the session to prompt_cache_key (both Claude Code formats)', () => {
    const user =
      'user_9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08_account_2c1f5e4a-1111-4a4a-9b9b-0123456789ab'
    const session = '7d3f9c2e-5b1a-4c8e-9f0d-abcdef012345'
    const legacy = chatOf({metadata: {user_id: `${user}_session_${session}`}})
    assert.deepEqual([legacy.safety_identifier, legacy.prompt_cache_key], [sha256(user), session])
    const json = chatOf({
      metadata: {user_id: JSON.stringify({device_id: 'dev1', account_uuid: '', session_id: session})},
    })
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
    const plan = decodeCountTokensRequest({
      model: 'claude-haiku-4-5',
      system: 'S',
      messages: [{role: 'user', content: 'Hi'}],
      tools: [tool('a')],
    })
    assert.deepEqual(plan.chat.messages, [
      {role: 'system', content: 'S'},
      {role: 'user', content: 'Hi'},
    ])
    assert.equal('max_completion_tokens' in plan.chat, false)
    assert.equal((plan.chat.tools as unknown[]).length, 1)
    assert.throws(() => decodeCountTokensRequest({model: 'm', messages: []}), bad('messages'))
  })
})

describe('a request shaped like Claude Code’s', () => {
  it('decodes into a valid chat request with the billing header gone, tools kept and the tool result first', () => {
    const request = claudeCodeRequest()
    const plan = decodeMessagesRequest(request)
    assertSchema('CreateChatCompletionRequest', plan.chat)
    assert.equal(plan.stream, true)
    assert.deepEqual(plan.echo, {
      model: 'claude-sonnet-4-5-20250929',
      toolNames: new Map(),
      stopSequences: [],
      thinking: true,
    })
    const {messages, tools, ...rest} = plan.chat
    assert.deepEqual(rest, {
      model: 'claude-sonnet-4-5-20250929',
      max_completion_tokens: 32_000,
      reasoning_effort: 'high',
      safety_identifier: sha256('user_1a2b3c_account_0f0e0d0c-0000-4000-8000-000000000001'),
      prompt_cache_key: '5a5b5c5d-0000-4000-8000-000000000002',
    })
    assert.deepEqual(messages, [
      {
        role: 'system',
        content:
          "You are Claude Code, Anthropic's official CLI for Claude.\n\nYou are an interactive CLI tool that helps users with software engineering tasks.",
      },
      {
        role: 'user',
        content: [
          {type: 'text', text: '<system-reminder>As you answer the user, use this context.</system-reminder>'},
          {type: 'text', text: 'List the files here'},
        ],
      },
      {
        role: 'assistant',
        content: "I'll list them.",
        tool_calls: [
          {id: 'toolu_01A', type: 'function', function: {name: 'Bash', arguments: '{"command":"ls","timeout":5}'}},
        ],
      },
      {role: 'tool', tool_call_id: 'toolu_01A', content: 'a.txt\nb.txt'},
      {role: 'user', content: "<system-reminder>The TodoWrite tool hasn't been used recently.</system-reminder>"},
    ])
    const chatTools = tools as Array<{type: string; function: {name: string; parameters: unknown}}>
    assert.equal(chatTools.length, 19)
    assert.deepEqual(
      chatTools.map((t) => t.function.name),
      request.tools.map((t) => t.name),
    )
    assert.deepEqual(chatTools[18], {
      type: 'function',
      function: {
        name: 'mcp__github__create_pull_request',
        description: 'mcp__github__create_pull_request tool',
        parameters: request.tools[18]!.input_schema,
      },
    })
  })

  it('gives the same chat request for the next request, whose billing header changed (the upstream prefix cache can hit)', () => {
    const first = claudeCodeRequest()
    const second = claudeCodeRequest()
    second.system[0]!.text = 'x-anthropic-billing-header: cc_version=2.1.88.a3f; cc_entrypoint=cli; cch=77d02;'
    assert.deepEqual(decodeMessagesRequest(second).chat, decodeMessagesRequest(first).chat)
  })
})
