import Anthropic from '@anthropic-ai/sdk'
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {claudeCodeRequest, foldAnthropicEvents, parseAnthropicSse} from '../helpers/anthropic.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'

const KEY = 'sk-anthropic-key-abcdefghijklmnopq1357'
type Sent = {
  model: string
  messages: Array<{
    role: string
    content: unknown
    tool_calls?: Array<{id: string; function: {name: string; arguments: string}}>
    tool_call_id?: string
  }>
  stop?: unknown
  max_completion_tokens?: number
  tools?: unknown[]
}
const WEATHER = {
  name: 'get_weather',
  description: 'Weather in a city',
  input_schema: {type: 'object' as const, properties: {city: {type: 'string'}}, required: ['city']},
}
/** A 1×1 PNG. */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='

/**
 * The official Anthropic SDK (what Claude Code is built on) against gptconv in front of a
 * chat-only upstream: Claude model names reach it through aliases, and every answer comes
 * back in Anthropic's shapes.
 */
describe('/v1/messages on a chat-only upstream', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon
  let sdk: Anthropic
  const sent = () => fake.requests.at(-1)!.body as Sent

  before(async () => {
    fake = await FakeOpenAI.start({keys: [KEY]})
    gw = await startTestDaemon({
      upstreams: {chatonly: {protocol: 'openai', baseUrl: fake.baseUrl, models: ['gpt-4o-mini']}},
      tokens: [{label: 'c', secret: KEY, upstream: 'chatonly'}],
      settings: {aliases: {'claude-sonnet-4-5-20250929': 'gpt-4o-mini', 'claude-3.5-haiku': 'gpt-4o-mini'}},
    })
    sdk = new Anthropic({baseURL: gw.origin, apiKey: gw.clientKey, maxRetries: 0})
  })
  after(async () => {
    await gw?.stop()
    await fake?.close()
  })

  it('messages.create: a Message with msg_ id, a text block, end_turn and usage; the alias chose the model', async () => {
    const message = await sdk.messages.create({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 256,
      system: 'Be brief',
      messages: [{role: 'user', content: 'Say hi'}],
    })
    assert.match(message.id, /^msg_/)
    assert.equal(message.type, 'message')
    assert.equal(message.role, 'assistant')
    assert.deepEqual(message.content, [{type: 'text', text: 'Hello from the fake upstream: Say hi'}])
    assert.equal(message.stop_reason, 'end_turn')
    assert.ok(message.usage.input_tokens > 0 && message.usage.output_tokens > 0)
    assert.equal(sent().model, 'gpt-4o-mini')
    assert.deepEqual(sent().messages, [
      {role: 'system', content: 'Be brief'},
      {role: 'user', content: 'Say hi'},
    ])
  })

  it("messages.stream(...).finalMessage() folds the stream into the same message; the raw events come in Anthropic's order", async () => {
    const final = await sdk.messages
      .stream({model: 'claude-3.5-haiku', max_tokens: 256, messages: [{role: 'user', content: 'Stream it'}]})
      .finalMessage()
    assert.deepEqual(final.content, [{type: 'text', text: 'Hello from the fake upstream: Stream it'}])
    assert.equal(final.stop_reason, 'end_turn')
    const res = await gw.api('/v1/messages', {
      method: 'POST',
      json: {model: 'claude-3.5-haiku', max_tokens: 256, stream: true, messages: [{role: 'user', content: 'Raw'}]},
    })
    const events = parseAnthropicSse(await res.text())
    assert.deepEqual(
      events.map((e) => e.type).filter((t, i, all) => t !== all[i - 1]),
      [
        'message_start',
        'ping',
        'content_block_start',
        'content_block_delta',
        'content_block_stop',
        'message_delta',
        'message_stop',
      ],
    )
    assert.deepEqual(foldAnthropicEvents(events).content, [{type: 'text', text: 'Hello from the fake upstream: Raw'}])
  })

  it('a tool round trip, streamed and not: tool_use blocks with the upstream ids, tool_result back as tool messages', async () => {
    const first = await sdk.messages.create({
      model: 'claude-3.5-haiku',
      max_tokens: 256,
      tools: [WEATHER],
      messages: [{role: 'user', content: 'call get_weather with {"city":"Paris"}'}],
    })
    assert.equal(first.stop_reason, 'tool_use')
    const use = first.content.find((b) => b.type === 'tool_use')
    assert.ok(use && use.type === 'tool_use')
    assert.deepEqual(use.input, {city: 'Paris'})
    const streamed = await sdk.messages
      .stream({
        model: 'claude-3.5-haiku',
        max_tokens: 256,
        tools: [WEATHER],
        messages: [
          {role: 'user', content: 'call get_weather with {"city":"Berlin"} and call get_weather with {"city":"Rome"}'},
        ],
      })
      .finalMessage()
    const uses = streamed.content.filter((b) => b.type === 'tool_use')
    assert.deepEqual(
      uses.map((b) => b.type === 'tool_use' && b.input),
      [{city: 'Berlin'}, {city: 'Rome'}],
    )
    assert.equal(streamed.stop_reason, 'tool_use')

    const answer = await sdk.messages.create({
      model: 'claude-3.5-haiku',
      max_tokens: 256,
      tools: [WEATHER],
      messages: [
        {role: 'user', content: 'call get_weather with {"city":"Paris"}'},
        {role: 'assistant', content: first.content},
        {role: 'user', content: [{type: 'tool_result', tool_use_id: use.id, content: 'sunny, 21°C'}]},
      ],
    })
    assert.equal(answer.stop_reason, 'end_turn')
    const messages = sent().messages
    assert.deepEqual(
      messages.map((m) => m.role),
      ['user', 'assistant', 'tool'],
    )
    assert.equal(messages[1].tool_calls?.[0].id, use.id)
    assert.equal(messages[2].tool_call_id, use.id)
    assert.equal(messages[2].content, 'sunny, 21°C')
  })

  it('images, stop sequences and max_tokens map onto chat', async () => {
    await sdk.messages.create({
      model: 'claude-3.5-haiku',
      max_tokens: 256,
      messages: [
        {
          role: 'user',
          content: [
            {type: 'image', source: {type: 'base64', media_type: 'image/png', data: PNG}},
            {type: 'text', text: 'What is this?'},
          ],
        },
      ],
    })
    assert.deepEqual(sent().messages[0].content, [
      {type: 'image_url', image_url: {url: `data:image/png;base64,${PNG}`}},
      {type: 'text', text: 'What is this?'},
    ])
    const stopped = await sdk.messages.create({
      model: 'claude-3.5-haiku',
      max_tokens: 256,
      stop_sequences: ['upstream'],
      messages: [{role: 'user', content: 'x'}],
    })
    assert.deepEqual(sent().stop, ['upstream'])
    assert.deepEqual(stopped.content, [{type: 'text', text: 'Hello from the fake '}])
    const cut = await sdk.messages.create({
      model: 'claude-3.5-haiku',
      max_tokens: 3,
      messages: [{role: 'user', content: 'Tell me a long story'}],
    })
    assert.equal(cut.stop_reason, 'max_tokens')
    assert.equal(sent().max_completion_tokens, 3)
  })

  it('countTokens counts the prompt locally', async () => {
    const small = await sdk.messages.countTokens({model: 'claude-3.5-haiku', messages: [{role: 'user', content: 'Hi'}]})
    const large = await sdk.messages.countTokens({
      model: 'claude-3.5-haiku',
      system: 'You are helpful. '.repeat(50),
      messages: [{role: 'user', content: 'Hi'}],
      tools: [WEATHER],
    })
    assert.ok(small.input_tokens > 0)
    assert.ok(large.input_tokens > small.input_tokens + 100)
  })

  it("errors come in Anthropic's envelope with its statuses", async () => {
    await assert.rejects(
      sdk.messages.create({model: 'claude-nonexistent', max_tokens: 16, messages: [{role: 'user', content: 'x'}]}),
      (e: unknown) =>
        e instanceof Anthropic.NotFoundError &&
        (e.error as {type: string; error: {type: string}}).error.type === 'not_found_error',
    )
    const missing = await gw.api('/v1/messages', {
      method: 'POST',
      json: {model: 'claude-3.5-haiku', messages: [{role: 'user', content: 'x'}]},
    })
    assert.equal(missing.status, 400)
    const body = (await missing.json()) as {type: string; error: {type: string; message: string}}
    assert.equal(body.type, 'error')
    assert.equal(body.error.type, 'invalid_request_error')
    assert.match(body.error.message, /max_tokens/)
    const wrongKey = await fetch(`${gw.url}/messages`, {
      method: 'POST',
      headers: {'x-api-key': 'wrong', 'content-type': 'application/json'},
      body: '{}',
    })
    assert.equal(wrongKey.status, 401)
    assert.equal(((await wrongKey.json()) as {error: {type: string}}).error.type, 'authentication_error')
    fake.fault('*', {type: 'die-mid-stream', afterChunks: 3})
    const broken = await gw.api('/v1/messages', {
      method: 'POST',
      json: {
        model: 'claude-3.5-haiku',
        max_tokens: 64,
        stream: true,
        messages: [{role: 'user', content: 'Break please'}],
      },
    })
    const events = parseAnthropicSse(await broken.text())
    assert.equal(events.at(-1)!.type, 'error', 'never a stream that just stops')
  })

  it("a request shaped like Claude Code's completes: x-api-key, beta header, ?beta=true, system blocks with cache_control, many tools, adaptive thinking", async () => {
    const request = {...claudeCodeRequest(), model: 'claude-sonnet-4-5-20250929'}
    const res = await fetch(`${gw.url}/messages?beta=true`, {
      method: 'POST',
      headers: {
        'x-api-key': gw.clientKey,
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'claude-code-20250219,oauth-2025-04-20,adaptive-thinking-2026-01-28',
        'x-app': 'cli',
        'content-type': 'application/json',
      },
      body: JSON.stringify(request),
    })
    assert.equal(res.status, 200)
    const events = parseAnthropicSse(await res.text())
    assert.equal(events.at(-1)!.type, 'message_stop')
    const message = foldAnthropicEvents(events)
    assert.equal(message.stop_reason, 'end_turn')
    const upstream = sent()
    assert.equal(upstream.model, 'gpt-4o-mini')
    assert.equal(upstream.tools?.length, request.tools.length)
    assert.ok(
      !JSON.stringify(upstream.messages).includes('x-anthropic-billing-header'),
      'the per-request billing header is not sent on',
    )
    assert.equal(upstream.max_completion_tokens, 16_384, "Claude Code's 32,000 lowered to what gpt-4o-mini writes")
    assert.equal((upstream as {reasoning_effort?: string}).reasoning_effort, undefined, 'gpt-4o-mini does not reason')
  })

  it('Anthropic clients get an Anthropic-shaped model list; OpenAI clients keep theirs', async () => {
    const models = await sdk.models.list()
    const ids = models.data.map((m) => m.id)
    assert.ok(ids.includes('claude-sonnet-4-5-20250929'))
    assert.equal(models.data[0].type, 'model')
    const openai = (await (await gw.api('/v1/models')).json()) as {object: string}
    assert.equal(openai.object, 'list')
  })
})
