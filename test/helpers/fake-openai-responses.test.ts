import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import {request} from 'undici'

import {FakeOpenAI, type FakeOpenAIOptions} from './fake-openai.js'
import {transcript} from './fake-openai-responses.js'
import {assertSchema} from './openapi.js'
import {responsesEvents, type StreamedEvent} from './responses.js'

type Obj = Record<string, unknown>
type Reply = {status: number; headers: Record<string, string>; text: string; error?: Error}

const KEY = 'sk-resp-aaaa1111'
const OTHER = 'sk-resp-bbbb2222'
const MODEL = 'gpt-4o-mini'
const WEATHER = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather of a city',
  parameters: {type: 'object', properties: {city: {type: 'string'}}},
}

/** One exchange with the fake; a body that breaks off comes back as far as it came, with `error` set. */
async function call(
  fake: FakeOpenAI,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  key = KEY,
): Promise<Reply> {
  const headers: Record<string, string> = {authorization: `Bearer ${key}`}
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await request(`${fake.baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  })
  const flat: Record<string, string> = {}
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v
  const parts: Buffer[] = []
  let error: Error | undefined
  try {
    for await (const chunk of res.body) parts.push(chunk as Buffer)
  } catch (e) {
    error = e instanceof Error ? e : new Error(String(e))
  }
  return {status: res.statusCode, headers: flat, text: Buffer.concat(parts).toString('utf8'), error}
}

const create = (fake: FakeOpenAI, body: Obj, key = KEY) =>
  call(fake, 'POST', '/responses', {model: MODEL, ...body}, key)

function json(reply: Reply, status = 200): Obj {
  assert.equal(reply.error, undefined)
  assert.equal(reply.status, status, reply.text)
  assert.equal(reply.headers['content-type'], 'application/json')
  return JSON.parse(reply.text) as Obj
}

function response(reply: Reply): Obj {
  const data = json(reply)
  assertSchema('Response', data)
  return data
}

function events(reply: Reply): StreamedEvent[] {
  assert.equal(reply.error, undefined)
  assert.equal(reply.status, 200, reply.text)
  assert.equal(reply.headers['content-type'], 'text/event-stream; charset=utf-8')
  return responsesEvents(reply.text)
}

function apiError(reply: Reply, status: number): Obj {
  const data = json(reply, status)
  assertSchema('ErrorResponse', data)
  return data
}

const outputOf = (r: Obj) => r.output as Obj[]
const textOf = (r: Obj) => ((outputOf(r)[0].content as Obj[])[0] as Obj).text
const types = (list: StreamedEvent[]) => list.map((e) => e.type)
const deltas = (list: StreamedEvent[], type: string) => list.filter((e) => e.type === type).map((e) => e.delta)
const notFound = (id: string) => ({
  error: {message: `Response with id '${id}' not found.`, type: 'invalid_request_error', param: null, code: null},
})
const noPrevious = (id: string) => ({
  error: {
    message: `Previous response with id '${id}' not found.`,
    type: 'invalid_request_error',
    param: 'previous_response_id',
    code: 'previous_response_not_found',
  },
})
const usage = (input: number, cached: number, output: number, extra = {cacheWrite: 0, reasoning: 0}) => ({
  input_tokens: input,
  input_tokens_details: {cached_tokens: cached, cache_write_tokens: extra.cacheWrite},
  output_tokens: output,
  output_tokens_details: {reasoning_tokens: extra.reasoning},
  total_tokens: input + output,
})

function suite(name: string, options: FakeOpenAIOptions, body: (get: () => FakeOpenAI) => void): void {
  describe(name, {timeout: 30_000}, () => {
    let fake: FakeOpenAI
    before(async () => {
      fake = await FakeOpenAI.start(options)
    })
    after(() => fake.close())
    body(() => fake)
  })
}

suite('fake Responses API: shapes', {responses: true}, (get) => {
  it('non-stream: the whole Response object, as OpenAI sends it', async () => {
    const r = response(await create(get(), {input: 'hi there', instructions: 'Be brief.', metadata: {run: '1'}}))
    const [item] = outputOf(r)
    assert.match(r.id as string, /^resp_[0-9a-f]{48}$/)
    assert.match(item.id as string, /^msg_[0-9a-f]{48}$/)
    assert.equal(typeof r.created_at, 'number')
    assert.deepEqual(r, {
      id: r.id,
      object: 'response',
      created_at: r.created_at,
      status: 'completed',
      background: false,
      completed_at: r.created_at,
      error: null,
      incomplete_details: null,
      instructions: 'Be brief.',
      max_output_tokens: null,
      max_tool_calls: null,
      model: MODEL,
      output: [
        {
          id: item.id,
          type: 'message',
          status: 'completed',
          content: [
            {type: 'output_text', annotations: [], logprobs: [], text: 'Hello from the fake upstream: hi there'},
          ],
          role: 'assistant',
        },
      ],
      parallel_tool_calls: true,
      previous_response_id: null,
      prompt_cache_key: null,
      reasoning: {effort: null, summary: null},
      safety_identifier: null,
      service_tier: 'default',
      store: true,
      temperature: 1,
      text: {format: {type: 'text'}, verbosity: 'medium'},
      tool_choice: 'auto',
      tools: [],
      top_logprobs: 0,
      top_p: 1,
      truncation: 'disabled',
      usage: usage(4, 0, 7),
      metadata: {run: '1'},
    })
    const seen = get().responsesSeen.at(-1)
    assert.equal(seen?.id, r.id)
    assert.deepEqual(transcript(seen?.input ?? []), ['user: hi there'])
  })

  it('stream: named events numbered from 0, a delta per word, the full response at the end, no [DONE]', async () => {
    const list = events(
      await create(get(), {
        input: [{role: 'user', content: [{type: 'input_text', text: 'stream this'}]}],
        stream: true,
      }),
    )
    assert.deepEqual(types(list), [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array<string>(7).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ])
    assert.deepEqual(deltas(list, 'response.output_text.delta'), [
      'Hello',
      ' from',
      ' the',
      ' fake',
      ' upstream:',
      ' stream',
      ' this',
    ])
    const created = list[0].response as Obj
    assert.deepEqual([created.status, created.output, 'usage' in created], ['in_progress', [], false])
    const final = list.at(-1)?.response as Obj
    assertSchema('Response', final)
    assert.equal(final.id, created.id)
    assert.equal(final.status, 'completed')
    assert.equal(textOf(final), 'Hello from the fake upstream: stream this')
    assert.deepEqual(final.output, [list.at(-2)?.item])
    assert.deepEqual(final.usage, usage(2, 0, 7))
    assert.equal(list.at(-4)?.text, 'Hello from the fake upstream: stream this')
  })

  it('a function call when the user says `call NAME with {json}`, streamed as argument deltas', async () => {
    const args = '{"city":"Paris, France"}'
    const r = response(await create(get(), {input: `please call get_weather with ${args}`, tools: [WEATHER]}))
    const [fc] = outputOf(r)
    assert.match(fc.call_id as string, /^call_[0-9a-f]{24}$/)
    assert.deepEqual(fc, {
      id: fc.id,
      type: 'function_call',
      status: 'completed',
      arguments: args,
      call_id: fc.call_id,
      name: 'get_weather',
    })
    assert.deepEqual(r.tools, [{...WEATHER, strict: true}])
    const list = events(await create(get(), {input: 'call get_weather', tools: [WEATHER], stream: true}))
    assert.deepEqual(types(list).slice(2), [
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ])
    assert.deepEqual(list[3], {
      type: 'response.function_call_arguments.delta',
      sequence_number: 3,
      item_id: (list[2].item as Obj).id,
      output_index: 0,
      delta: '{}',
    })
    assert.deepEqual(
      deltas(
        events(await create(get(), {input: `call get_weather with ${args}`, tools: [WEATHER], stream: true})),
        'response.function_call_arguments.delta',
      ),
      ['{"city":', '"Paris, ', 'France"}'],
    )
    for (const body of [
      {input: 'call get_weather'},
      {input: 'call get_time', tools: [WEATHER]},
      {input: 'call get_weather', tools: [WEATHER], tool_choice: 'none'},
    ]) {
      assert.equal(textOf(response(await create(get(), body))), `Hello from the fake upstream: ${body.input}`)
    }
  })

  it('a tool output continues the call; one answering no call is a 400', async () => {
    const first = response(await create(get(), {input: 'call get_weather with {"city":"Oslo"}', tools: [WEATHER]}))
    const callId = outputOf(first)[0].call_id as string
    const second = response(
      await create(get(), {
        previous_response_id: first.id,
        tools: [WEATHER],
        input: [{type: 'function_call_output', call_id: callId, output: 'snow'}],
      }),
    )
    assert.equal(textOf(second), 'Hello from the fake upstream: call get_weather with {"city":"Oslo"}')
    assert.deepEqual(transcript(get().responsesSeen.at(-1)?.input ?? []), [
      'user: call get_weather with {"city":"Oslo"}',
      'function_call get_weather {"city":"Oslo"}',
      `function_call_output ${callId}: snow`,
    ])
    const stray = apiError(
      await create(get(), {input: [{type: 'function_call_output', call_id: 'call_nope', output: 'x'}]}),
      400,
    )
    assert.deepEqual(stray, {
      error: {
        message: 'No tool call found for function call output with call_id call_nope.',
        type: 'invalid_request_error',
        param: 'input',
        code: null,
      },
    })
  })

  it('max_output_tokens: the output is cut, status incomplete, in JSON and in the stream', async () => {
    const r = response(await create(get(), {input: 'one two', max_output_tokens: 3}))
    assert.deepEqual(
      [r.status, r.incomplete_details, r.completed_at, r.max_output_tokens],
      ['incomplete', {reason: 'max_output_tokens'}, null, 3],
    )
    assert.deepEqual([outputOf(r)[0].status, textOf(r), r.usage], ['incomplete', 'Hello from the', usage(2, 0, 3)])
    const list = events(await create(get(), {input: 'one two', max_output_tokens: 3, stream: true}))
    assert.deepEqual(deltas(list, 'response.output_text.delta'), ['Hello', ' from', ' the'])
    assert.equal(list.at(-1)?.type, 'response.incomplete')
    assert.equal((list.at(-1)?.response as Obj).status, 'incomplete')
  })

  it('bad requests are 400s naming the param', async () => {
    const bad: Array<[Obj, string | null, string | null]> = [
      [{model: undefined, input: 'x'}, 'model', 'missing_required_parameter'],
      [{input: 5}, 'input', 'invalid_type'],
      [{input: [{role: 'robot', content: 'x'}]}, 'input[0].role', 'invalid_value'],
      [{input: [{type: 'function_call', call_id: 'c', name: 'f'}]}, 'input[0].arguments', 'missing_required_parameter'],
      [{input: [{type: 'item_reference', id: 'msg_nope'}]}, 'input', null],
      [{}, 'input', 'missing_required_parameter'],
      [{input: 'x', stream: 'yes'}, 'stream', 'invalid_type'],
    ]
    for (const [body, param, code] of bad) {
      const error = apiError(await create(get(), body), 400).error as Obj
      assert.deepEqual(
        [error.param, error.code, error.type],
        [param, code, 'invalid_request_error'],
        JSON.stringify(body),
      )
    }
  })
})

suite('fake Responses API: storage per key', {responses: true, keys: [KEY, OTHER]}, (get) => {
  it('previous_response_id puts the first turn before the new input (instructions not carried)', async () => {
    const first = response(await create(get(), {input: 'My name is Ada', instructions: 'Be kind.'}))
    const second = response(await create(get(), {input: 'What is my name?', previous_response_id: first.id}))
    assert.deepEqual([second.previous_response_id, second.instructions], [first.id, null])
    const seen = get().responsesSeen.at(-1)
    assert.deepEqual([seen?.key, seen?.previousResponseId, seen?.instructions], [KEY, first.id, null])
    assert.deepEqual(transcript(seen?.input ?? []), [
      'user: My name is Ada',
      'assistant: Hello from the fake upstream: My name is Ada',
      'user: What is my name?',
    ])
    assert.deepEqual(second.usage, usage(4 + 9 + 4, 13, 9))
    assert.deepEqual(
      apiError(await create(get(), {input: 'x', previous_response_id: 'resp_x'}), 400),
      noPrevious('resp_x'),
    )
    const referenced = response(
      await create(get(), {
        input: [
          {type: 'item_reference', id: outputOf(first)[0].id},
          {role: 'user', content: 'again'},
        ],
      }),
    )
    assert.equal(textOf(referenced), 'Hello from the fake upstream: again')
    assert.deepEqual(transcript(get().responsesSeen.at(-1)?.input ?? []), [
      'assistant: Hello from the fake upstream: My name is Ada',
      'user: again',
    ])
  })

  it('ids belong to the key that made them: another key gets 404 / 400', async () => {
    const mine = response(await create(get(), {input: 'secret'}))
    const id = mine.id as string
    assert.equal(get().responseOwner(id), KEY)
    assert.deepEqual(json(await call(get(), 'GET', `/responses/${id}`)), mine)
    assert.deepEqual(apiError(await call(get(), 'GET', `/responses/${id}`, undefined, OTHER), 404), notFound(id))
    assert.deepEqual(
      apiError(await call(get(), 'GET', `/responses/${id}/input_items`, undefined, OTHER), 404),
      notFound(id),
    )
    assert.deepEqual(apiError(await call(get(), 'DELETE', `/responses/${id}`, undefined, OTHER), 404), notFound(id))
    assert.deepEqual(apiError(await create(get(), {input: 'x', previous_response_id: id}, OTHER), 400), noPrevious(id))
    assert.equal(
      (apiError(await create(get(), {input: 'x'}, 'sk-stranger-0000'), 401).error as Obj).code,
      'invalid_api_key',
    )
  })

  it('input_items: newest first by default, limit / order / after; DELETE; store: false keeps nothing', async () => {
    const first = response(
      await create(get(), {
        input: [
          {role: 'developer', content: 'd'},
          {role: 'user', content: 'u1'},
        ],
      }),
    )
    const second = response(await create(get(), {input: 'u2', previous_response_id: first.id}))
    const ids = [...(get().responsesSeen.at(-1)?.input ?? [])].map((it) => it.id)
    assert.equal(ids.length, 4)
    const page = json(await call(get(), 'GET', `/responses/${second.id}/input_items`))
    assert.deepEqual(page, {
      object: 'list',
      data: [...(get().responsesSeen.at(-1)?.input ?? [])].reverse(),
      first_id: ids[3],
      last_id: ids[0],
      has_more: false,
    })
    assert.deepEqual((page.data as Obj[])[3], {
      id: ids[0],
      type: 'message',
      role: 'developer',
      content: [{type: 'input_text', text: 'd'}],
      status: 'completed',
    })
    const asc = json(await call(get(), 'GET', `/responses/${second.id}/input_items?order=asc&limit=2&after=${ids[0]}`))
    assert.deepEqual(
      [(asc.data as Obj[]).map((it) => it.id), asc.first_id, asc.last_id, asc.has_more],
      [[ids[1], ids[2]], ids[1], ids[2], true],
    )
    assert.equal(
      (apiError(await call(get(), 'GET', `/responses/${second.id}/input_items?limit=0`), 400).error as Obj).param,
      'limit',
    )
    assert.deepEqual(json(await call(get(), 'DELETE', `/responses/${first.id}`)), {
      id: first.id,
      object: 'response.deleted',
      deleted: true,
    })
    assert.deepEqual(apiError(await call(get(), 'GET', `/responses/${first.id}`), 404), notFound(first.id as string))
    assert.deepEqual(apiError(await call(get(), 'DELETE', `/responses/${first.id}`), 404), notFound(first.id as string))
    assert.equal(get().responseOwner(first.id as string), undefined)
    assert.equal(response(await call(get(), 'GET', `/responses/${second.id}`)).id, second.id)
    const unstored = response(await create(get(), {input: 'forget me', store: false}))
    assert.equal(unstored.store, false)
    assert.deepEqual(
      apiError(await call(get(), 'GET', `/responses/${unstored.id}`), 404),
      notFound(unstored.id as string),
    )
    assert.deepEqual(
      apiError(await create(get(), {input: 'x', previous_response_id: unstored.id}), 400),
      noPrevious(unstored.id as string),
    )
  })
})

suite(
  'fake Responses API: faults, options, and the rest of the fake',
  {
    responses: {reasoningTokens: 5, cacheWriteTokens: 3},
    answer: (body) => `saw ${(body.messages as unknown[]).length} messages`,
  },
  (get) => {
    it('status fault: 429 with Retry-After, recorded, nothing made', async () => {
      get().fault(KEY, {type: 'status', status: 429, headers: {'retry-after': '7'}})
      const before = get().responsesSeen.length
      const reply = await create(get(), {input: 'x'})
      assert.equal((apiError(reply, 429).error as Obj).code, 'rate_limit_exceeded')
      assert.deepEqual([reply.headers['retry-after'], get().responsesSeen.length], ['7', before])
      assert.deepEqual(
        [get().requests.at(-1)?.path, get().requests.at(-1)?.key, get().requests.at(-1)?.body],
        ['/v1/responses', KEY, {model: MODEL, input: 'x'}],
      )
    })

    it('die-mid-stream: N deltas, then the connection drops before response.completed', async () => {
      get().fault(KEY, {type: 'die-mid-stream', afterChunks: 1})
      const reply = await create(get(), {input: 'x', instructions: 'i', stream: true})
      assert.equal(reply.status, 200)
      assert.ok(reply.error, 'the client sees the connection break')
      const list = responsesEvents(reply.text)
      assert.deepEqual(types(list), [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
      ])
      get().fault(KEY, {type: 'die-mid-stream', afterChunks: 1})
      const half = await create(get(), {input: 'x'})
      assert.ok(half.error)
      assert.throws(() => JSON.parse(half.text))
    })

    it('options: the answer hook sees instructions + conversation; reasoning and cache-write tokens in usage', async () => {
      const r = response(await create(get(), {input: 'a b', instructions: 'i'}))
      assert.equal(textOf(r), 'saw 2 messages')
      assert.deepEqual(r.usage, usage(3, 0, 3 + 5, {cacheWrite: 3, reasoning: 5}))
      const cut = response(await create(get(), {input: 'a b', max_output_tokens: 6}))
      assert.deepEqual([cut.status, textOf(cut)], ['incomplete', 'saw'])
    })

    it('chat completions still work on the same fake; without the option /v1/responses is a 404', async () => {
      const chat = json(
        await call(get(), 'POST', '/chat/completions', {model: MODEL, messages: [{role: 'user', content: 'hi'}]}),
      )
      assertSchema('CreateChatCompletionResponse', chat)
      const plain = await FakeOpenAI.start()
      try {
        const error = apiError(await create(plain, {input: 'x'}), 404).error as Obj
        assert.equal(error.message, 'Invalid URL (POST /v1/responses)')
        assert.deepEqual(plain.responsesSeen, [])
      } finally {
        await plain.close()
      }
    })
  },
)
