import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import OpenAI from 'openai'

import {readLedger} from '../../src/core/ledger.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'
import {assertSchema} from '../helpers/openapi.js'

const KEY = 'sk-responses-key-abcdefghijklmnopq9999'
type Sent = {model: string; messages: Array<{role: string; content: unknown}>; tools?: unknown[]; stream?: boolean}

/**
 * The official SDK's Responses calls against gptconv on an upstream that speaks only chat:
 * the request is bridged through chat, the answer (and every stream event) validated
 * against the official schemas, responses stored so that previous_response_id, retrieve,
 * input_items and delete work.
 */
describe('/v1/responses on a chat-only upstream (bridge)', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon
  let sdk: OpenAI
  const sent = () => fake.requests.at(-1)!.body as Sent

  before(async () => {
    fake = await FakeOpenAI.start({keys: [KEY]})
    gw = await startTestDaemon({
      upstreams: {chatonly: {protocol: 'openai', baseUrl: fake.baseUrl}},
      tokens: [{label: 'c', secret: KEY, upstream: 'chatonly'}],
    })
    sdk = new OpenAI({baseURL: gw.url, apiKey: gw.clientKey, maxRetries: 0})
  })
  after(async () => {
    await gw?.stop()
    await fake?.close()
  })

  it('responses.create: a Response of the official shape, the answer as output_text, usage mapped', async () => {
    const response = await sdk.responses.create({model: 'gpt-4o-mini', input: 'Say hi', instructions: 'Be brief'})
    assertSchema('Response', response)
    assert.match(response.id, /^resp_/)
    assert.equal(response.status, 'completed')
    assert.equal(response.output_text, 'Hello from the fake upstream: Say hi')
    assert.equal(response.instructions, 'Be brief')
    assert.ok(response.usage && response.usage.input_tokens > 0 && response.usage.output_tokens > 0)
    assert.deepEqual(sent().messages, [
      {role: 'system', content: 'Be brief'},
      {role: 'user', content: 'Say hi'},
    ])
    assert.equal(fake.requests.at(-1)!.path, '/v1/chat/completions')
  })

  it('stream: every event validates, sequence numbers count from 0, and the final response matches the text', async () => {
    const stream = await sdk.responses.create({model: 'gpt-4o-mini', input: 'Stream it', stream: true})
    const types: string[] = []
    let text = ''
    let sequence = 0
    for await (const event of stream) {
      assertSchema('ResponseStreamEvent', event)
      assert.equal(event.sequence_number, sequence++)
      types.push(event.type)
      if (event.type === 'response.output_text.delta') text += event.delta
    }

    assert.equal(text, 'Hello from the fake upstream: Stream it')
    assert.deepEqual(types.slice(0, 4), [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ])
    assert.equal(types.at(-1), 'response.completed')
    const final = await sdk.responses.stream({model: 'gpt-4o-mini', input: 'Again'}).finalResponse()
    assertSchema('Response', final)
    assert.equal(final.output_text, 'Hello from the fake upstream: Again')
  })

  it('previous_response_id continues from the stored turn; retrieve, input_items and delete work', async () => {
    const first = await sdk.responses.create({
      model: 'gpt-4o-mini',
      input: 'My name is Ada',
      instructions: 'Only for the first',
    })
    const second = await sdk.responses.create({
      model: 'gpt-4o-mini',
      input: 'What is my name?',
      previous_response_id: first.id,
    })
    assert.equal(second.previous_response_id, first.id)
    assert.deepEqual(sent().messages, [
      {role: 'user', content: 'My name is Ada'},
      {role: 'assistant', content: 'Hello from the fake upstream: My name is Ada'},
      {role: 'user', content: 'What is my name?'},
    ])
    const retrieved = await sdk.responses.retrieve(second.id)
    assertSchema('Response', retrieved)
    assert.deepEqual(retrieved, second)
    const items = await sdk.responses.inputItems.list(second.id, {order: 'asc'})
    assert.deepEqual(
      items.data.map((i) => (i as {role?: string}).role),
      ['user', 'assistant', 'user'],
    )
    const deleted = await sdk.responses.delete(second.id)
    assert.deepEqual(deleted, {id: second.id, object: 'response.deleted', deleted: true})
    await assert.rejects(sdk.responses.retrieve(second.id), (e: unknown) => e instanceof OpenAI.NotFoundError)
    await assert.rejects(
      sdk.responses.create({model: 'gpt-4o-mini', input: 'x', previous_response_id: 'resp_unknown'}),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError && (e.error as {param?: string}).param === 'previous_response_id',
    )
  })

  it('store: false keeps nothing; another client key sees nothing', async () => {
    const unstored = await sdk.responses.create({model: 'gpt-4o-mini', input: 'Forget me', store: false})
    await assert.rejects(sdk.responses.retrieve(unstored.id), (e: unknown) => e instanceof OpenAI.NotFoundError)
    const stored = await sdk.responses.create({model: 'gpt-4o-mini', input: 'Keep me'})
    const stranger = await fetch(`${gw.url}/responses/${stored.id}`, {
      headers: {authorization: 'Bearer sk-not-the-client-key'},
    })
    assert.equal(stranger.status, 401)
  })

  it("a request shaped like Codex CLI's completes: stream, store false, reasoning, include, function tools, encrypted reasoning items", async () => {
    const tools = ['shell', 'apply_patch', 'update_plan'].map((name) => ({
      type: 'function',
      name,
      description: `The ${name} tool`,
      strict: false,
      parameters: {
        type: 'object',
        properties: {command: {type: 'array', items: {type: 'string'}}},
        required: ['command'],
        additionalProperties: false,
      },
    }))
    const res = await gw.api('/v1/responses', {
      method: 'POST',
      json: {
        model: 'gpt-5-mini',
        instructions: 'You are Codex, a coding agent.',
        input: [
          {type: 'message', role: 'developer', content: [{type: 'input_text', text: '<permissions instructions>'}]},
          {type: 'message', role: 'user', content: [{type: 'input_text', text: 'List the files'}]},
          {type: 'reasoning', summary: [], encrypted_content: 'gAAAA-opaque'},
          {type: 'function_call', name: 'shell', arguments: '{"command":["ls"]}', call_id: 'call_1'},
          {type: 'function_call_output', call_id: 'call_1', output: 'README.md\nsrc'},
        ],
        tools,
        tool_choice: 'auto',
        parallel_tool_calls: false,
        reasoning: {effort: 'medium', summary: 'auto'},
        store: false,
        stream: true,
        include: ['reasoning.encrypted_content'],
        prompt_cache_key: '0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
      },
    })
    assert.equal(res.status, 200)
    const events = (await res.text())
      .split('\n\n')
      .filter(Boolean)
      .map(
        (e) =>
          JSON.parse(
            e
              .split('\n')
              .find((l) => l.startsWith('data: '))!
              .slice(6),
          ) as {type: string},
      )
    for (const event of events) assertSchema('ResponseStreamEvent', event)
    assert.equal(events.at(-1)!.type, 'response.completed')
    const body = sent()
    assert.equal(body.stream, true)
    assert.deepEqual(
      body.messages.map((m) => m.role),
      ['system', 'developer', 'user', 'assistant', 'tool'],
    )
    assert.equal((body as {reasoning_effort?: string}).reasoning_effort, 'medium')
    assert.equal(body.tools?.length, 3)
  })

  it('what a bridge cannot do is a 400 naming the parameter', async () => {
    for (const [extra, param] of [
      [{background: true}, 'background'],
      [{tools: [{type: 'web_search'}]}, 'tools[0].type'],
      [{conversation: 'conv_1'}, 'conversation'],
    ] as const) {
      const res = await gw.api('/v1/responses', {method: 'POST', json: {model: 'gpt-4o-mini', input: 'x', ...extra}})
      assert.equal(res.status, 400, JSON.stringify(extra))
      const body = (await res.json()) as {error: {param: string}}
      assertSchema('ErrorResponse', body)
      assert.equal(body.error.param, param)
    }
  })

  it('the ledger records Responses requests like chat ones', async () => {
    await sdk.responses.create({model: 'gpt-4o-mini', input: 'Count me'})
    await new Promise((resolve) => setTimeout(resolve, 50))
    const records = await readLedger(gw.ctx.paths.ledger)
    const last = records.at(-1)!
    assert.equal(last.endpoint, 'responses')
    assert.equal(last.token, 'c')
    assert.ok(last.prompt_tokens > 0)
  })

  it('sessions apply: X-Session-Id keeps the conversation', async () => {
    const turn = async (content: string) =>
      (
        await gw.api('/v1/responses', {
          method: 'POST',
          headers: {'x-session-id': 'resp-session'},
          json: {model: 'gpt-4o-mini', input: content, store: false},
        })
      ).json()
    await turn('I like tea')
    await turn('What do I like?')
    assert.deepEqual(
      sent().messages.map((m) => m.content),
      ['I like tea', 'Hello from the fake upstream: I like tea', 'What do I like?'],
    )
  })

  it('the upstream dies mid-answer: the stream ends with response.failed, never just stops', async () => {
    fake.fault('*', {type: 'die-mid-stream', afterChunks: 3})
    const res = await gw.api('/v1/responses', {
      method: 'POST',
      json: {model: 'gpt-4o-mini', input: 'Break please', stream: true},
    })
    const events = (await res.text())
      .split('\n\n')
      .filter(Boolean)
      .map(
        (e) =>
          JSON.parse(
            e
              .split('\n')
              .find((l) => l.startsWith('data: '))!
              .slice(6),
          ) as {type: string},
      )
    for (const event of events) assertSchema('ResponseStreamEvent', event)
    assert.equal(events.at(-1)!.type, 'response.failed')
  })
})

const WEATHER = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather in a city',
  strict: false,
  parameters: {type: 'object', properties: {city: {type: 'string'}}, required: ['city']},
}

describe('/v1/responses tool round trips', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon
  let sdk: OpenAI

  before(async () => {
    fake = await FakeOpenAI.start({keys: [KEY]})
    gw = await startTestDaemon({
      upstreams: {chatonly: {protocol: 'openai', baseUrl: fake.baseUrl}},
      tokens: [{label: 'c', secret: KEY, upstream: 'chatonly'}],
    })
    sdk = new OpenAI({baseURL: gw.url, apiKey: gw.clientKey, maxRetries: 0})
  })
  after(async () => {
    await gw?.stop()
    await fake?.close()
  })

  it('bridge: a function call comes back as a function_call item; its output continues the chain', async () => {
    const first = await sdk.responses.create({
      model: 'gpt-4o-mini',
      input: 'call get_weather with {"city":"Paris"}',
      tools: [WEATHER],
    })
    assertSchema('Response', first)
    const call = first.output.find((o) => o.type === 'function_call')
    assert.ok(call && call.type === 'function_call')
    assert.equal(call.name, 'get_weather')
    assert.deepEqual(JSON.parse(call.arguments), {city: 'Paris'})
    assert.match(call.call_id, /^call_/)
    assert.equal(
      first.output.some((o) => o.type === 'message'),
      false,
      'no empty message beside the call',
    )

    const second = await sdk.responses.create({
      model: 'gpt-4o-mini',
      previous_response_id: first.id,
      tools: [WEATHER],
      input: [{type: 'function_call_output', call_id: call.call_id, output: '{"temp": 21}'}],
    })
    assertSchema('Response', second)
    const sent = fake.requests.at(-1)!.body as {
      messages: Array<{role: string; tool_calls?: Array<{id: string}>; tool_call_id?: string; content: unknown}>
    }
    assert.deepEqual(
      sent.messages.map((m) => m.role),
      ['user', 'assistant', 'tool'],
    )
    assert.equal(sent.messages[1].tool_calls?.[0].id, call.call_id)
    assert.equal(sent.messages[2].tool_call_id, call.call_id)
    assert.equal(sent.messages[2].content, '{"temp": 21}')
  })

  it('bridge, streamed: the call arrives as argument deltas, every event validates, finalResponse holds it', async () => {
    const events: string[] = []
    let args = ''
    const stream = sdk.responses.stream({
      model: 'gpt-4o-mini',
      input: 'call get_weather with {"city":"Berlin"} and call get_weather with {"city":"Rome"}',
      tools: [WEATHER],
    })
    stream.on('event', (event) => {
      assertSchema('ResponseStreamEvent', event)
      events.push(event.type)
      if (event.type === 'response.function_call_arguments.delta') args += event.delta
    })
    const final = await stream.finalResponse()
    const calls = final.output.filter((o) => o.type === 'function_call')
    assert.deepEqual(
      calls.map((c) => c.type === 'function_call' && JSON.parse(c.arguments)),
      [{city: 'Berlin'}, {city: 'Rome'}],
    )
    assert.equal(args, '{"city":"Berlin"}{"city":"Rome"}')
    assert.ok(events.filter((t) => t === 'response.function_call_arguments.delta').length > 2)
    assert.equal(events.at(-1), 'response.completed')
  })

  it('chat clients get streamed tool calls from a chat upstream unchanged (passthrough)', async () => {
    const stream = await sdk.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{role: 'user', content: 'call get_weather with {"city":"Oslo"}'}],
      tools: [{type: 'function', function: {name: 'get_weather', parameters: WEATHER.parameters}}],
    })
    let args = ''
    for await (const chunk of stream) {
      assertSchema('CreateChatCompletionStreamResponse', chunk)
      args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? ''
    }

    assert.equal(args, '{"city":"Oslo"}')
  })
})

const NATIVE_A = 'sk-native-a-abcdefghijklmnopqrstu1212'
const NATIVE_B = 'sk-native-b-abcdefghijklmnopqrstu3434'

describe('/v1/responses on an upstream that serves Responses itself (native)', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon
  let sdk: OpenAI

  before(async () => {
    fake = await FakeOpenAI.start({keys: [NATIVE_A, NATIVE_B], responses: true})
    gw = await startTestDaemon({
      upstreams: {native: {protocol: 'openai', baseUrl: fake.baseUrl, responses: 'native'}},
      tokens: [
        {label: 'na', secret: NATIVE_A, upstream: 'native'},
        {label: 'nb', secret: NATIVE_B, upstream: 'native'},
      ],
    })
    sdk = new OpenAI({baseURL: gw.url, apiKey: gw.clientKey, maxRetries: 0})
  })
  after(async () => {
    await gw?.stop()
    await fake?.close()
  })

  it('passes the request through and the answer back as the upstream sent it', async () => {
    const response = await sdk.responses.create({model: 'gpt-4o-mini', input: 'Say hi', instructions: 'Be brief'})
    assertSchema('Response', response)
    assert.equal(response.output_text, 'Hello from the fake upstream: Say hi')
    assert.equal(fake.requests.at(-1)!.path, '/v1/responses')
    const stream = await sdk.responses.stream({model: 'gpt-4o-mini', input: 'Stream it'}).finalResponse()
    assert.equal(stream.output_text, 'Hello from the fake upstream: Stream it')
  })

  it('previous_response_id, retrieve, input_items and delete go to the token that made the response', async () => {
    for (let round = 0; round < 4; round++) {
      const first = await sdk.responses.create({model: 'gpt-4o-mini', input: `My name is Ada ${round}`})
      const owner = fake.responseOwner(first.id)
      const second = await sdk.responses.create({
        model: 'gpt-4o-mini',
        input: 'What is my name?',
        previous_response_id: first.id,
      })
      assert.equal(fake.responseOwner(second.id), owner, 'the continuation went to the same account')
      const retrieved = await sdk.responses.retrieve(second.id)
      assert.equal(retrieved.id, second.id)
      const items = await sdk.responses.inputItems.list(second.id)
      assert.ok(items.data.length >= 2)
      assert.deepEqual(await sdk.responses.delete(first.id), {id: first.id, object: 'response.deleted', deleted: true})
      await assert.rejects(sdk.responses.retrieve(first.id), (e: unknown) => e instanceof OpenAI.NotFoundError)
    }
  })

  it('a tool round trip, and a Codex-shaped request, both completing natively', async () => {
    const first = await sdk.responses.create({
      model: 'gpt-4o-mini',
      input: 'call get_weather with {"city":"Paris"}',
      tools: [WEATHER],
    })
    const call = first.output.find((o) => o.type === 'function_call')
    assert.ok(call && call.type === 'function_call')
    const second = await sdk.responses.create({
      model: 'gpt-4o-mini',
      previous_response_id: first.id,
      tools: [WEATHER],
      input: [{type: 'function_call_output', call_id: call.call_id, output: 'sunny'}],
    })
    assert.equal(second.status, 'completed')
    const res = await gw.api('/v1/responses', {
      method: 'POST',
      json: {
        model: 'gpt-4o-mini',
        instructions: 'You are Codex.',
        input: [{type: 'message', role: 'user', content: [{type: 'input_text', text: 'hi'}]}],
        tools: [{...WEATHER, name: 'shell'}],
        tool_choice: 'auto',
        parallel_tool_calls: false,
        reasoning: {effort: 'low', summary: 'auto'},
        store: false,
        stream: true,
        include: ['reasoning.encrypted_content'],
        prompt_cache_key: 'k1',
      },
    })
    const events = (await res.text())
      .split('\n\n')
      .filter(Boolean)
      .map(
        (e) =>
          JSON.parse(
            e
              .split('\n')
              .find((l) => l.startsWith('data: '))!
              .slice(6),
          ) as {type: string},
      )
    assert.equal(events.at(-1)!.type, 'response.completed')
    assert.equal((fake.requests.at(-1)!.body as {store: boolean}).store, false, 'the body went through as it came')
  })
})
