import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import OpenAI, {NotFoundError, RateLimitError} from 'openai'

import {FakeOpenAI} from './fake-openai.js'
import {transcript} from './fake-openai-responses.js'
import {assertSchema} from './openapi.js'

// The official SDK talking to the fake directly: it parses, accumulates and pages what the
// fake sends, so the fake's shapes are the ones the SDK was built for.

const KEY = 'sk-sdk-aaaa1111'
const MODEL = 'gpt-4o-mini'
const WEATHER = {
  type: 'function' as const,
  name: 'get_weather',
  parameters: {type: 'object', properties: {city: {type: 'string'}}},
  strict: false,
}

describe('fake Responses API through the openai SDK', {timeout: 30_000}, () => {
  let fake: FakeOpenAI
  let client: OpenAI
  before(async () => {
    fake = await FakeOpenAI.start({responses: true, keys: [KEY]})
    client = new OpenAI({apiKey: KEY, baseURL: fake.baseUrl, maxRetries: 0, timeout: 5_000})
  })
  after(() => fake.close())

  it('responses.create: output_text, usage, and a function call', async () => {
    const r = await client.responses.create({model: MODEL, input: 'hello sdk', instructions: 'Be brief.'})
    assertSchema('Response', r)
    assert.deepEqual(
      [r.status, r.output_text, r.instructions],
      ['completed', 'Hello from the fake upstream: hello sdk', 'Be brief.'],
    )
    assert.deepEqual(r.usage, {
      input_tokens: 4,
      input_tokens_details: {cached_tokens: 0, cache_write_tokens: 0},
      output_tokens: 7,
      output_tokens_details: {reasoning_tokens: 0},
      total_tokens: 11,
    })
    const called = await client.responses.create({
      model: MODEL,
      input: 'call get_weather with {"city":"Rome"}',
      tools: [WEATHER],
    })
    const [item] = called.output
    assert.equal(item.type, 'function_call')
    assert.deepEqual(item.type === 'function_call' ? [item.name, item.arguments] : [], [
      'get_weather',
      '{"city":"Rome"}',
    ])
    assert.equal(called.output_text, '')
  })

  it('responses.stream(...).finalResponse(): the accumulated response matches the stored one', async () => {
    const stream = client.responses.stream({model: MODEL, input: 'stream via sdk'})
    const deltas: string[] = []
    stream.on('response.output_text.delta', (event) => deltas.push(event.delta))
    const final = await stream.finalResponse()
    assert.deepEqual(deltas, ['Hello', ' from', ' the', ' fake', ' upstream:', ' stream', ' via', ' sdk'])
    assert.equal(final.output_text, 'Hello from the fake upstream: stream via sdk')
    const stored = await client.responses.retrieve(final.id)
    // finalResponse() adds `parsed: null` to each text part, so compare what the server sent
    assert.deepEqual(
      [stored.output.map((o) => o.id), stored.output_text, stored.status],
      [final.output.map((o) => o.id), final.output_text, 'completed'],
    )
    assert.deepEqual(stored.usage, final.usage)
    const call = await client.responses
      .stream({model: MODEL, input: 'call get_weather with {"city":"Lima"}', tools: [WEATHER]})
      .finalResponse()
    assert.deepEqual(
      call.output.map((o) => (o.type === 'function_call' ? o.arguments : o.type)),
      ['{"city":"Lima"}'],
    )
  })

  it('previous_response_id, retrieve, inputItems (paged), delete, then 404', async () => {
    const first = await client.responses.create({model: MODEL, input: 'first turn'})
    const second = await client.responses.create({model: MODEL, input: 'second turn', previous_response_id: first.id})
    assert.deepEqual(transcript(fake.responsesSeen.at(-1)?.input ?? []), [
      'user: first turn',
      'assistant: Hello from the fake upstream: first turn',
      'user: second turn',
    ])
    assert.equal((await client.responses.retrieve(second.id)).previous_response_id, first.id)
    const texts: string[] = []
    for await (const it of client.responses.inputItems.list(second.id, {limit: 1, order: 'asc'})) {
      texts.push(it.type === 'message' ? it.content.map((c) => ('text' in c ? c.text : '')).join('') : it.type)
    }
    assert.deepEqual(texts, ['first turn', 'Hello from the fake upstream: first turn', 'second turn'])
    // typed `void`, but the SDK hands back the body it parsed
    assert.deepEqual((await client.responses.delete(first.id)) as unknown, {
      id: first.id,
      object: 'response.deleted',
      deleted: true,
    })
    await assert.rejects(
      client.responses.retrieve(first.id),
      (e: unknown) => e instanceof NotFoundError && e.message === `404 Response with id '${first.id}' not found.`,
    )
    await assert.rejects(
      client.responses.create({model: MODEL, input: 'x', previous_response_id: first.id}),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError &&
        e.code === 'previous_response_not_found' &&
        e.param === 'previous_response_id',
    )
  })

  it('a 429 fault reaches the SDK as a RateLimitError', async () => {
    fake.fault(KEY, {type: 'status', status: 429, headers: {'retry-after': '1'}})
    await assert.rejects(client.responses.create({model: MODEL, input: 'x'}), RateLimitError)
  })
})
