import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import OpenAI from 'openai'
import {standardFunction, standardResponseFormat} from 'openai/helpers/standard-schema'
import type {ChatCompletionChunk, ChatCompletionTool} from 'openai/resources/chat/completions'

import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {assertValid, standardSchema} from '../helpers/json-schema.js'
import {assertSchema, parseSseBody} from '../helpers/openapi.js'

/**
 * `gptconv serve --demo` with the official SDK: the demo upstream honours tools, tool_choice,
 * JSON mode and structured outputs, serves only the models it lists, and its answers
 * validate against the official schemas.
 */

const MODEL = 'gpt-4o-mini'
const WEATHER = {
  type: 'object',
  properties: {
    city: {type: 'string'},
    unit: {type: 'string', enum: ['celsius', 'fahrenheit']},
    when: {type: 'string', format: 'date-time'},
    days: {type: 'integer', minimum: 1, maximum: 7},
    note: {type: 'string'},
  },
  required: ['city', 'unit', 'when', 'days'],
  additionalProperties: false,
}
const WEATHER_ARGS = {city: 'demo', unit: 'celsius', when: '2024-01-01T00:00:00Z', days: 1}
const TOOLS: ChatCompletionTool[] = [
  {type: 'function', function: {name: 'get_weather', description: 'The weather in a city', parameters: WEATHER}},
  {
    type: 'function',
    function: {
      name: 'get_time',
      parameters: {type: 'object', properties: {zone: {type: 'string', pattern: '^[A-Z]+$'}}, required: ['zone']},
    },
  },
]
const prose = (said: string) =>
  `This is the gptconv demo upstream answering as ${MODEL}. You said: "${said}". Add a real token with \`gptconv tokens add\` to talk to a model.`

describe('the demo upstream through the daemon, with the official SDK (chat, models, embeddings, images)', () => {
  let gw: TestDaemon
  let sdk: OpenAI

  before(async () => {
    gw = await startTestDaemon({demo: true})
    sdk = new OpenAI({baseURL: gw.url, apiKey: gw.clientKey, maxRetries: 0, timeout: 20_000})
  })
  after(async () => {
    await gw?.stop()
  })

  const ask = (content: string, extra: Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming> = {}) =>
    sdk.chat.completions.create({model: MODEL, messages: [{role: 'user', content}], tools: TOOLS, ...extra})
  const called = (c: OpenAI.Chat.ChatCompletion) =>
    (c.choices[0].message.tool_calls ?? []).map((t) => (t.type === 'function' ? t.function.name : t.type))

  it('a forced tool call: one call, arguments a valid instance of the tool schema, finish_reason tool_calls', async () => {
    const completion = await ask('What is the weather?', {
      tool_choice: {type: 'function', function: {name: 'get_weather'}},
    })
    assertSchema('CreateChatCompletionResponse', completion)
    const {message, finish_reason} = completion.choices[0]
    assert.equal(finish_reason, 'tool_calls')
    assert.equal(message.content, null)
    assert.equal(message.tool_calls?.length, 1)
    const call = message.tool_calls![0]
    assert.ok(call.type === 'function')
    assert.match(call.id, /^call_[0-9a-f]{24}$/)
    assert.equal(call.function.name, 'get_weather')
    const args: unknown = JSON.parse(call.function.arguments)
    assert.deepEqual(args, WEATHER_ARGS)
    assertValid(WEATHER, args, 'arguments')
  })

  it('a forced tool call, streamed: a chunk with index, id, type and name, then argument fragments; every chunk validates', async () => {
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {
        model: MODEL,
        messages: [{role: 'user', content: 'weather?'}],
        tools: TOOLS,
        tool_choice: {type: 'function', function: {name: 'get_weather'}},
        stream: true,
      },
    })
    const body = parseSseBody(await res.text())
    assert.equal(body.done, true)
    const chunks = body.events as ChatCompletionChunk[]
    for (const chunk of chunks) assertSchema('CreateChatCompletionStreamResponse', chunk)
    const deltas = chunks.flatMap((c) => c.choices.flatMap((choice) => choice.delta.tool_calls ?? []))
    const [head, ...fragments] = deltas
    assert.deepEqual(
      {...head, id: 'ID'},
      {index: 0, id: 'ID', type: 'function', function: {name: 'get_weather', arguments: ''}},
    )
    assert.match(head.id ?? '', /^call_/)
    assert.ok(fragments.length > 3)
    for (const f of fragments) assert.deepEqual(Object.keys(f).sort(), ['function', 'index'])
    const args: unknown = JSON.parse(fragments.map((f) => f.function?.arguments).join(''))
    assert.deepEqual(args, WEATHER_ARGS)
    assert.equal(chunks.at(-1)!.choices[0].finish_reason, 'tool_calls')

    const final = await sdk.chat.completions
      .stream({
        model: MODEL,
        messages: [{role: 'user', content: 'weather?'}],
        tools: TOOLS,
        tool_choice: {type: 'function', function: {name: 'get_weather'}},
      })
      .finalChatCompletion()
    const call = final.choices[0].message.tool_calls![0]
    assert.ok(call.type === 'function')
    assertValid(WEATHER, JSON.parse(call.function.arguments), 'streamed arguments')
  })

  it('required, auto and parallel_tool_calls: the documented rule', async () => {
    assert.deepEqual(
      called(await ask('hello', {tool_choice: 'required'})),
      ['get_weather'],
      'required, nothing named: the first tool',
    )
    assert.deepEqual(
      called(await ask('Use get_time then GET_WEATHER', {tool_choice: 'required'})),
      ['get_time', 'get_weather'],
      'required: the tools named, in order',
    )
    const both = await ask('please call get_time and get_weather')
    assert.deepEqual(called(both), ['get_time', 'get_weather'], 'auto: the tools the message names')
    assert.deepEqual(
      JSON.parse((both.choices[0].message.tool_calls![0] as {function: {arguments: string}}).function.arguments),
      {zone: 'A'},
    )
    assert.deepEqual(called(await ask('call get_time and get_weather', {parallel_tool_calls: false})), ['get_time'])
    const text = await ask('what is the weather like?')
    assert.deepEqual(
      [text.choices[0].message.content, text.choices[0].finish_reason],
      [prose('what is the weather like?'), 'stop'],
      'auto, no tool named: text',
    )
    assert.deepEqual(called(await ask('call get_weather', {tool_choice: 'none'})), [])
    await assert.rejects(
      ask('x', {tool_choice: {type: 'function', function: {name: 'nope'}}}),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'tool_choice',
    )
  })

  it('after a tool result, the answer is text that quotes it', async () => {
    const first = await ask('call get_weather')
    const call = first.choices[0].message.tool_calls![0]
    const second = await sdk.chat.completions.create({
      model: MODEL,
      tools: TOOLS,
      messages: [
        {role: 'user', content: 'call get_weather'},
        first.choices[0].message,
        {role: 'tool', tool_call_id: call.id, content: '{"temp":21}'},
      ],
    })
    assertSchema('CreateChatCompletionResponse', second)
    assert.equal(second.choices[0].finish_reason, 'stop')
    assert.equal(
      second.choices[0].message.content,
      `This is the gptconv demo upstream answering as ${MODEL}. The tool results: get_weather returned "{"temp":21}". Add a real token with \`gptconv tokens add\` to talk to a model.`,
    )
  })

  it('structured outputs: chat.completions.parse (a zod-free Standard Schema, checked by the SDK) returns a parsed object valid against the schema, streamed too', async () => {
    const schema = {
      type: 'object',
      properties: {
        title: {type: 'string'},
        year: {type: 'integer', minimum: 1900},
        tags: {type: 'array', items: {type: 'string'}, minItems: 1},
        kind: {anyOf: [{type: 'string', enum: ['book', 'film']}, {type: 'null'}]},
      },
      required: ['title', 'year', 'tags', 'kind'],
      additionalProperties: false,
    }
    const response_format = standardResponseFormat(standardSchema(schema), 'work')
    const messages = [{role: 'user' as const, content: 'A classic?'}]
    const completion = await sdk.chat.completions.parse({model: MODEL, messages, response_format})
    assertSchema('CreateChatCompletionResponse', completion)
    const parsed = completion.choices[0].message.parsed
    assert.deepEqual(parsed, {title: 'demo', year: 1900, tags: ['demo'], kind: 'book'})
    assertValid(schema, parsed, 'parsed')
    const streamed = await sdk.chat.completions.stream({model: MODEL, messages, response_format}).finalChatCompletion()
    assert.deepEqual(streamed.choices[0].message.parsed, parsed)
    // a plain json_schema response_format: the content is the same JSON
    const plain = await sdk.chat.completions.create({
      model: MODEL,
      messages,
      response_format: {type: 'json_schema', json_schema: {name: 'work', schema, strict: true}},
    })
    assert.deepEqual(JSON.parse(plain.choices[0].message.content ?? ''), parsed)
  })

  it('strict function tools through parse: parsed_arguments checked by the SDK against the schema', async () => {
    const strict = {...WEATHER, required: Object.keys(WEATHER.properties)}
    const tool = standardFunction({name: 'get_weather', parameters: standardSchema(strict)})
    const completion = await sdk.chat.completions.parse({
      model: MODEL,
      messages: [{role: 'user', content: 'weather?'}],
      tools: [tool],
      tool_choice: 'required',
    })
    const call = completion.choices[0].message.tool_calls?.[0]
    assert.deepEqual(call?.function.parsed_arguments, {...WEATHER_ARGS, note: 'demo'})
  })

  it('JSON mode: the content is a JSON object', async () => {
    const completion = await sdk.chat.completions.create({
      model: MODEL,
      messages: [{role: 'user', content: 'as JSON'}],
      response_format: {type: 'json_object'},
    })
    assertSchema('CreateChatCompletionResponse', completion)
    assert.deepEqual(JSON.parse(completion.choices[0].message.content ?? ''), {answer: prose('as JSON')})
  })

  it('only the listed models: an unknown one is a 404 model_not_found on chat and on models.retrieve', async () => {
    const list = await sdk.models.list()
    for (const model of list.data) assertSchema('Model', model)
    assert.deepEqual(
      list.data.map((m) => m.id),
      [
        'gpt-4o-mini',
        'gpt-4o',
        'gpt-4.1-mini',
        'gpt-3.5-turbo',
        'gpt-3.5-turbo-instruct',
        'text-embedding-3-small',
        'text-embedding-3-large',
        'dall-e-2',
        'dall-e-3',
      ],
    )
    const one = await sdk.models.retrieve('gpt-4o')
    assertSchema('Model', one)
    assert.equal(one.id, 'gpt-4o')
    const notFound = (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found'
    await assert.rejects(
      sdk.chat.completions.create({model: 'gpt-imaginary', messages: [{role: 'user', content: 'hi'}]}),
      notFound,
    )
    await assert.rejects(sdk.models.retrieve('gpt-imaginary'), notFound)
    const raw = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-imaginary', messages: [{role: 'user', content: 'hi'}], stream: true},
    })
    assert.equal(raw.status, 404)
    const envelope = await raw.json()
    assertSchema('ErrorResponse', envelope)
    assert.deepEqual(envelope, {
      error: {
        message: 'The model `gpt-imaginary` does not exist or you do not have access to it.',
        type: 'invalid_request_error',
        param: 'model',
        code: 'model_not_found',
      },
    })
    await assert.rejects(sdk.embeddings.create({model: 'gpt-4o', input: 'x'}), notFound)
  })

  it('embeddings and images keep working', async () => {
    const vectors = await sdk.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['hello', 'world'],
      encoding_format: 'float',
    })
    assertSchema('CreateEmbeddingResponse', vectors)
    assert.deepEqual(
      vectors.data.map((d) => d.embedding.length),
      [16, 16],
    )
    const viaBase64 = await sdk.embeddings.create({model: 'text-embedding-3-small', input: 'hello'})
    assert.deepEqual(
      viaBase64.data[0].embedding.map((v) => Math.round(v * 1e5)),
      vectors.data[0].embedding.map((v) => Math.round(v * 1e5)),
    )
    const image = await sdk.images.generate({model: 'dall-e-3', prompt: 'a cat', response_format: 'b64_json'})
    assertSchema('ImagesResponse', image)
    assert.equal(Buffer.from(image.data![0].b64_json!, 'base64').subarray(1, 4).toString(), 'PNG')
  })
})
