import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import OpenAI from 'openai'
import {standardTextFormat} from 'openai/helpers/standard-schema'
import type {FunctionTool, Response, ResponseStreamEvent} from 'openai/resources/responses/responses'

import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {assertValid, standardSchema} from '../helpers/json-schema.js'
import {assertSchema} from '../helpers/openapi.js'
import {responsesEvents, type StreamedEvent} from '../helpers/responses.js'

/**
 * The Responses API of `gptconv serve --demo`: the demo upstream serves it natively and the
 * daemon passes it through. Every Response and every stream event validates against the
 * official schemas.
 */

const MODEL = 'gpt-4o-mini'
const PARAMETERS = {
  type: 'object',
  properties: {city: {type: 'string'}, when: {type: 'string', format: 'date'}, days: {type: 'integer', minimum: 2}},
  required: ['city', 'when', 'days'],
  additionalProperties: false,
}
const WEATHER: FunctionTool = {type: 'function', name: 'get_weather', parameters: PARAMETERS, strict: true}
const ARGS = {city: 'demo', when: '2024-01-01', days: 2}
const TAIL = 'Add a real token with `gptconv tokens add` to talk to a model.'

describe('the demo upstream through the daemon: the Responses API, natively', () => {
  let gw: TestDaemon
  let sdk: OpenAI

  before(async () => {
    gw = await startTestDaemon({demo: true})
    sdk = new OpenAI({baseURL: gw.url, apiKey: gw.clientKey, maxRetries: 0, timeout: 20_000})
  })
  after(async () => {
    await gw?.stop()
  })

  /** The raw stream of a `POST /v1/responses`, each event checked for framing, numbering and schema. */
  const streamed = async (json: object): Promise<StreamedEvent[]> => {
    const res = await gw.api('/v1/responses', {method: 'POST', json: {model: MODEL, stream: true, ...json}})
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    return responsesEvents(await res.text())
  }

  it('text: a Response of the official shape, the answer as output_text', async () => {
    const response = await sdk.responses.create({model: MODEL, input: 'Hello', instructions: 'Be brief'})
    assertSchema('Response', response)
    assert.equal(response.status, 'completed')
    assert.equal(
      response.output_text,
      `This is the gptconv demo upstream answering as ${MODEL}. You said: "Hello". ${TAIL}`,
    )
    assert.deepEqual(response.usage, {
      input_tokens: 3,
      input_tokens_details: {cached_tokens: 0, cache_write_tokens: 0},
      output_tokens: 25,
      output_tokens_details: {reasoning_tokens: 0},
      total_tokens: 28,
    })
    const cut = await sdk.responses.create({model: MODEL, input: 'Hello', max_output_tokens: 4})
    assertSchema('Response', cut)
    assert.deepEqual(
      [cut.status, cut.incomplete_details?.reason, cut.output_text],
      ['incomplete', 'max_output_tokens', 'This is the gptconv '],
    )
  })

  it('stream: every event validates, numbered from 0, deltas add up to the final text', async () => {
    const events = await streamed({input: 'Stream it'})
    assert.deepEqual(
      events.slice(0, 4).map((e) => e.type),
      ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added'],
    )
    assert.equal(events.at(-1)!.type, 'response.completed')
    const final = events.at(-1)!.response as Response
    assertSchema('Response', final)
    const text = events
      .filter((e) => e.type === 'response.output_text.delta')
      .map((e) => e.delta)
      .join('')
    assert.equal(text, `This is the gptconv demo upstream answering as ${MODEL}. You said: "Stream it". ${TAIL}`)
    assert.equal((final.output[0] as {content: Array<{text: string}>}).content[0].text, text)

    const viaSdk = sdk.responses.stream({model: MODEL, input: 'Stream it'})
    const seen: ResponseStreamEvent[] = []
    viaSdk.on('event', (e) => seen.push(e))
    assert.equal((await viaSdk.finalResponse()).output_text, text)
    for (const e of seen) assertSchema('ResponseStreamEvent', e)
  })

  it('a forced function call: arguments valid against the schema, streamed as argument deltas too', async () => {
    const response = await sdk.responses.create({
      model: MODEL,
      input: 'weather?',
      tools: [WEATHER],
      tool_choice: {type: 'function', name: 'get_weather'},
    })
    assertSchema('Response', response)
    assert.equal(response.output.length, 1)
    const call = response.output[0]
    assert.ok(call.type === 'function_call')
    assert.deepEqual([call.name, call.status], ['get_weather', 'completed'])
    assert.match(call.call_id, /^call_/)
    assert.deepEqual(JSON.parse(call.arguments), ARGS)
    assertValid(PARAMETERS, JSON.parse(call.arguments), 'arguments')

    const events = await streamed({input: 'weather?', tools: [WEATHER], tool_choice: 'required'})
    const deltas = events
      .filter((e) => e.type === 'response.function_call_arguments.delta')
      .map((e) => e.delta as string)
    const done = events.find((e) => e.type === 'response.function_call_arguments.done')!
    assert.ok(deltas.length > 3)
    assert.equal(deltas.join(''), done.arguments)
    assert.deepEqual(JSON.parse(done.arguments as string), ARGS)
    assert.equal(done.name, 'get_weather')
  })

  it('previous_response_id: the tool output continues the chain, and the answer quotes it', async () => {
    const first = await sdk.responses.create({model: MODEL, input: 'call get_weather please', tools: [WEATHER]})
    assertSchema('Response', first)
    const call = first.output[0]
    assert.ok(call.type === 'function_call', 'auto: the message names the tool')
    const second = await sdk.responses.create({
      model: MODEL,
      previous_response_id: first.id,
      tools: [WEATHER],
      input: [{type: 'function_call_output', call_id: call.call_id, output: 'sunny, 21 C'}],
    })
    assertSchema('Response', second)
    assert.equal(second.previous_response_id, first.id)
    assert.equal(
      second.output_text,
      `This is the gptconv demo upstream answering as ${MODEL}. The tool results: get_weather returned "sunny, 21 C". ${TAIL}`,
    )
    const items = await sdk.responses.inputItems.list(second.id, {order: 'asc'})
    assert.deepEqual(
      items.data.map((it) => it.type),
      ['message', 'function_call', 'function_call_output'],
    )
    await assert.rejects(
      sdk.responses.create({model: MODEL, input: 'x', previous_response_id: 'resp_unknown'}),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError &&
        e.param === 'previous_response_id' &&
        e.code === 'previous_response_not_found',
    )
  })

  it('text.format json_schema: responses.parse returns the parsed object, checked by the SDK', async () => {
    const schema = {
      type: 'object',
      properties: {answer: {type: 'string'}, score: {type: 'number', exclusiveMinimum: 0}},
      required: ['answer', 'score'],
      additionalProperties: false,
    }
    const parsed = await sdk.responses.parse({
      model: MODEL,
      input: 'rate it',
      text: {format: standardTextFormat(standardSchema(schema), 'rating')},
    })
    assertSchema('Response', parsed)
    assert.deepEqual(parsed.output_parsed, {answer: 'demo', score: 1})
    const json = await sdk.responses.create({model: MODEL, input: 'json please', text: {format: {type: 'json_object'}}})
    assert.deepEqual(JSON.parse(json.output_text), {
      answer: `This is the gptconv demo upstream answering as ${MODEL}. You said: "json please". ${TAIL}`,
    })
  })

  it('retrieve, input_items and delete of what the demo stored; store: false keeps nothing', async () => {
    const created = await sdk.responses.create({model: MODEL, input: 'remember me'})
    const retrieved = await sdk.responses.retrieve(created.id)
    assertSchema('Response', retrieved)
    assert.deepEqual(retrieved, created)
    const items = await sdk.responses.inputItems.list(created.id)
    assert.deepEqual(
      items.data.map((it) => (it.type === 'message' ? it.content : it.type)),
      [[{type: 'input_text', text: 'remember me'}]],
    )
    assert.deepEqual(await sdk.responses.delete(created.id), {
      id: created.id,
      object: 'response.deleted',
      deleted: true,
    })
    await assert.rejects(sdk.responses.retrieve(created.id), (e: unknown) => e instanceof OpenAI.NotFoundError)
    const unstored = await sdk.responses.create({model: MODEL, input: 'forget me', store: false})
    assert.equal((unstored as {store?: boolean}).store, false)
    await assert.rejects(sdk.responses.retrieve(unstored.id), (e: unknown) => e instanceof OpenAI.NotFoundError)
  })

  it('an unknown model is a 404 model_not_found here too', async () => {
    await assert.rejects(
      sdk.responses.create({model: 'gpt-imaginary', input: 'hi'}),
      (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found',
    )
  })
})
