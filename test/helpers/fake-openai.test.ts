import assert from 'node:assert/strict'
import {after, afterEach, before, beforeEach, describe, it} from 'node:test'

import fc from 'fast-check'
import OpenAI, {RateLimitError} from 'openai'
import {request} from 'undici'

import {FAKE_PNG_BASE64, FakeOpenAI, fakeEmbedding, type FakeOpenAIOptions} from './fake-openai.js'
import {assertSchema, matchesSchema, parseSseBody, type SchemaName} from './openapi.js'

type Reply = {status: number; headers: Record<string, string>; text: string; error?: Error; ms: number}
type Obj = Record<string, unknown>

const KEY = 'sk-test-aaaa1111'

/** One HTTP exchange; a body that breaks off is returned as far as it came, with `error` set. */
async function call(
  fake: FakeOpenAI,
  method: string,
  path: string,
  options: {key?: string | null; body?: unknown; rawBody?: string; timeoutMs?: number} = {},
): Promise<Reply> {
  const started = Date.now()
  const headers: Record<string, string> = {}
  if (options.key !== null) headers.authorization = `Bearer ${options.key ?? KEY}`
  let payload: string | undefined = options.rawBody
  if (options.body !== undefined) payload = JSON.stringify(options.body)
  if (payload !== undefined) headers['content-type'] = 'application/json'
  const res = await request(`${fake.origin}${path}`, {
    method: method === 'GET' ? 'GET' : 'POST',
    headers,
    body: payload,
    signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
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
  return {
    status: res.statusCode,
    headers: flat,
    text: Buffer.concat(parts).toString('utf8'),
    error,
    ms: Date.now() - started,
  }
}

const post = (fake: FakeOpenAI, path: string, body: unknown, key?: string) =>
  call(fake, 'POST', `/v1${path}`, {body, key})

function json(reply: Reply): Obj {
  assert.equal(reply.error, undefined, `body read failed: ${reply.error?.message}`)
  return JSON.parse(reply.text) as Obj
}

function ok(reply: Reply, schema: SchemaName): Obj {
  assert.equal(reply.status, 200, reply.text)
  assert.equal(reply.headers['content-type'], 'application/json')
  const data = json(reply)
  assertSchema(schema, data)
  return data
}

function sse(reply: Reply, schema: SchemaName): Obj[] {
  assert.equal(reply.status, 200, reply.text)
  assert.equal(reply.headers['content-type'], 'text/event-stream; charset=utf-8')
  assert.equal(reply.error, undefined)
  const parsed = parseSseBody(reply.text)
  assert.equal(parsed.done, true, 'ends with [DONE]')
  assert.equal(parsed.trailing, '')
  for (const event of parsed.events) assertSchema(schema, event)
  return parsed.events as Obj[]
}

function apiError(reply: Reply, status: number, param: string | null, code?: string | null): Obj {
  assert.equal(reply.status, status, reply.text)
  const data = json(reply)
  assertSchema('ErrorResponse', data)
  const error = data.error as Obj
  assert.equal(error.param, param)
  if (code !== undefined) assert.equal(error.code, code)
  return error
}

const choicesOf = (data: Obj) => data.choices as Obj[]
const messageOf = (choice: Obj) => choice.message as Obj

/** Per choice index: concatenated delta contents, finish reason, and the chunks in order. */
function collectChat(chunks: Obj[]): Map<number, {content: string; finish: unknown; count: number}> {
  const out = new Map<number, {content: string; finish: unknown; count: number}>()
  for (const chunk of chunks) {
    for (const choice of choicesOf(chunk)) {
      const index = choice.index as number
      const entry = out.get(index) ?? {content: '', finish: null, count: 0}
      const delta = choice.delta as Obj
      if (entry.finish !== null) assert.fail(`choice ${index} has a chunk after its finish_reason`)
      if (entry.count === 0)
        assert.deepEqual(delta, {role: 'assistant', content: ''}, 'first chunk of a choice carries the role')
      if (typeof delta.content === 'string') entry.content += delta.content
      entry.finish = choice.finish_reason
      entry.count++
      out.set(index, entry)
    }
  }
  return out
}

function collectLegacy(chunks: Obj[]): Map<number, {text: string; finish: unknown}> {
  const out = new Map<number, {text: string; finish: unknown}>()
  for (const chunk of chunks) {
    for (const choice of choicesOf(chunk)) {
      const index = choice.index as number
      const entry = out.get(index) ?? {text: '', finish: null}
      assert.equal(entry.finish, null, `choice ${index} has a chunk after its finish_reason`)
      entry.text += choice.text as string
      entry.finish = choice.finish_reason
      out.set(index, entry)
    }
  }
  return out
}

function decodeFloat32(b64: string): number[] {
  const bytes = Buffer.from(b64, 'base64')
  return Array.from({length: bytes.length / 4}, (_, i) => bytes.readFloatLE(i * 4))
}

async function waitFor(check: () => boolean, ms = 2_000): Promise<void> {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) assert.fail('condition not reached in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

async function withFake<T>(options: FakeOpenAIOptions, fn: (fake: FakeOpenAI) => Promise<T>): Promise<T> {
  const fake = await FakeOpenAI.start(options)
  try {
    return await fn(fake)
  } finally {
    await fake.close()
  }
}

const chatBody = (extra: Obj = {}) => ({
  model: 'gpt-4o-mini',
  messages: [
    {role: 'system', content: 'Be brief.'},
    {role: 'user', content: 'Say hello to the test'},
  ],
  ...extra,
})
const EXPECTED = 'Hello from the fake upstream: Say hello to the test'

describe('FakeOpenAI: responses match the official schemas', {timeout: 30_000}, () => {
  let fake: FakeOpenAI
  before(async () => {
    fake = await FakeOpenAI.start()
  })
  after(() => fake.close())

  it('GET /v1/models and /v1/models/:id', async () => {
    const list = ok(await call(fake, 'GET', '/v1/models'), 'ListModelsResponse')
    assert.deepEqual(
      (list.data as Obj[]).map((m) => m.id),
      ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small', 'dall-e-3'],
    )
    assert.ok((list.data as Obj[]).every((m) => m.owned_by === 'fake' && Number.isInteger(m.created)))
    const one = ok(await call(fake, 'GET', '/v1/models/gpt-4o'), 'Model')
    assert.equal(one.id, 'gpt-4o')
    apiError(await call(fake, 'GET', '/v1/models/gpt-9'), 404, 'model', 'model_not_found')
  })

  it('sets the OpenAI response headers', async () => {
    fake.resetStats()
    const first = await call(fake, 'GET', '/v1/models', {key: 'sk-headers'})
    const second = await call(fake, 'GET', '/v1/models', {key: 'sk-headers'})
    for (const reply of [first, second]) {
      assert.match(reply.headers['x-request-id'], /^req_\d+$/)
      assert.match(reply.headers['openai-processing-ms'], /^\d+$/)
      assert.equal(reply.headers['openai-version'], '2020-10-01')
      assert.equal(reply.headers['x-ratelimit-limit-requests'], '10000')
    }
    assert.notEqual(first.headers['x-request-id'], second.headers['x-request-id'])
    assert.equal(
      Number(first.headers['x-ratelimit-remaining-requests']) - 1,
      Number(second.headers['x-ratelimit-remaining-requests']),
    )
  })

  it('chat, n=1, non-stream: exact chat.completion shape', async () => {
    const data = ok(await post(fake, '/chat/completions', chatBody()), 'CreateChatCompletionResponse')
    assert.match(data.id as string, /^chatcmpl-/)
    assert.equal(data.object, 'chat.completion')
    assert.ok(Number.isInteger(data.created))
    assert.ok(Math.abs((data.created as number) - Date.now() / 1000) < 5)
    assert.equal(data.model, 'gpt-4o-mini')
    assert.equal(data.system_fingerprint, 'fp_fake')
    assert.deepEqual(choicesOf(data), [
      {index: 0, message: {role: 'assistant', content: EXPECTED, refusal: null}, logprobs: null, finish_reason: 'stop'},
    ])
    // prompt: "Be brief." (2) + "Say hello to the test" (5); completion: 10 words
    assert.deepEqual(data.usage, {prompt_tokens: 7, completion_tokens: 10, total_tokens: 17})
    const again = ok(await post(fake, '/chat/completions', chatBody()), 'CreateChatCompletionResponse')
    assert.notEqual(again.id, data.id, 'ids are unique per request')
  })

  it('chat, n=2: non-stream and stream (no include_usage) agree', async () => {
    const full = ok(await post(fake, '/chat/completions', chatBody({n: 2})), 'CreateChatCompletionResponse')
    assert.deepEqual(
      choicesOf(full).map((c) => messageOf(c).content),
      [EXPECTED, `${EXPECTED} (choice 1)`],
    )
    const chunks = sse(
      await post(fake, '/chat/completions', chatBody({n: 2, stream: true})),
      'CreateChatCompletionStreamResponse',
    )
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'one id')
    assert.equal(new Set(chunks.map((c) => c.created)).size, 1, 'one created')
    assert.ok(
      chunks.every((c) => !('usage' in c)),
      'no usage field without include_usage',
    )
    assert.ok(chunks.every((c) => choicesOf(c).length === 1))
    for (const chunk of chunks) {
      const choice = choicesOf(chunk)[0]
      assert.ok('finish_reason' in choice && 'logprobs' in choice)
      if (choice.finish_reason !== null) assert.deepEqual(choice.delta, {})
    }
    assert.deepEqual(
      chunks.slice(0, 4).map((c) => choicesOf(c)[0].index),
      [0, 1, 0, 1],
      'indexes interleave',
    )
    const collected = collectChat(chunks)
    assert.equal(collected.get(0)?.content, messageOf(choicesOf(full)[0]).content)
    assert.equal(collected.get(1)?.content, messageOf(choicesOf(full)[1]).content)
    assert.equal(collected.get(0)?.finish, 'stop')
    assert.equal(collected.get(1)?.finish, 'stop')
    // role chunk + one chunk per word + finish chunk
    assert.equal(collected.get(0)?.count, 10 + 2)
  })

  it('chat stream with include_usage: usage null on every chunk, then a usage chunk', async () => {
    const full = ok(await post(fake, '/chat/completions', chatBody()), 'CreateChatCompletionResponse')
    for (const n of [1, 2]) {
      const chunks = sse(
        await post(fake, '/chat/completions', chatBody({n, stream: true, stream_options: {include_usage: true}})),
        'CreateChatCompletionStreamResponse',
      )
      const last = chunks.at(-1) as Obj
      assert.deepEqual(last.choices, [])
      const usage = last.usage as Obj
      if (n === 1) assert.deepEqual(usage, full.usage)
      else assert.equal(usage.completion_tokens, 10 + 12)
      for (const chunk of chunks.slice(0, -1)) {
        assert.ok('usage' in chunk)
        assert.equal(chunk.usage, null)
      }
      assert.equal(collectChat(chunks.slice(0, -1)).get(0)?.content, EXPECTED)
    }
    const without = sse(
      await post(fake, '/chat/completions', chatBody({stream: true, stream_options: {include_usage: false}})),
      'CreateChatCompletionStreamResponse',
    )
    assert.ok(without.every((c) => !('usage' in c) && choicesOf(c).length === 1))
  })

  it('chat max_tokens / max_completion_tokens truncate to words with finish_reason length', async () => {
    for (const field of ['max_tokens', 'max_completion_tokens']) {
      const data = ok(await post(fake, '/chat/completions', chatBody({[field]: 3})), 'CreateChatCompletionResponse')
      assert.deepEqual(choicesOf(data)[0], {
        index: 0,
        message: {role: 'assistant', content: 'Hello from the', refusal: null},
        logprobs: null,
        finish_reason: 'length',
      })
      assert.equal((data.usage as Obj).completion_tokens, 3)
      const chunks = sse(
        await post(fake, '/chat/completions', chatBody({[field]: 3, stream: true})),
        'CreateChatCompletionStreamResponse',
      )
      assert.deepEqual(collectChat(chunks).get(0), {content: 'Hello from the', finish: 'length', count: 5})
    }
    const roomy = ok(await post(fake, '/chat/completions', chatBody({max_tokens: 10})), 'CreateChatCompletionResponse')
    assert.equal(choicesOf(roomy)[0].finish_reason, 'stop')
  })

  it('chat stop (string or array) cuts before the first stop sequence', async () => {
    const one = ok(await post(fake, '/chat/completions', chatBody({stop: ' upstream'})), 'CreateChatCompletionResponse')
    assert.equal(messageOf(choicesOf(one)[0]).content, 'Hello from the fake')
    assert.equal(choicesOf(one)[0].finish_reason, 'stop')
    const many = ok(
      await post(fake, '/chat/completions', chatBody({stop: ['test', 'fake']})),
      'CreateChatCompletionResponse',
    )
    assert.equal(messageOf(choicesOf(many)[0]).content, 'Hello from the ')
    const both = ok(
      await post(fake, '/chat/completions', chatBody({stop: ['test'], max_tokens: 2})),
      'CreateChatCompletionResponse',
    )
    assert.equal(messageOf(choicesOf(both)[0]).content, 'Hello from')
    assert.equal(choicesOf(both)[0].finish_reason, 'length')
    const chunks = sse(
      await post(fake, '/chat/completions', chatBody({stop: ['test', 'fake'], stream: true})),
      'CreateChatCompletionStreamResponse',
    )
    assert.deepEqual(collectChat(chunks).get(0)?.content, 'Hello from the ')
  })

  it('chat logprobs with top_logprobs, stream and non-stream', async () => {
    const data = ok(
      await post(fake, '/chat/completions', chatBody({logprobs: true, top_logprobs: 3, max_tokens: 2})),
      'CreateChatCompletionResponse',
    )
    const logprobs = choicesOf(data)[0].logprobs as Obj
    assert.equal(logprobs.refusal, null)
    const content = logprobs.content as Obj[]
    assert.deepEqual(
      content.map((c) => [c.token, c.logprob]),
      [
        ['Hello', -0.1],
        [' from', -0.2],
      ],
    )
    assert.deepEqual(content[1].bytes, [...Buffer.from(' from')])
    const top = content[1].top_logprobs as Obj[]
    assert.equal(top.length, 3)
    assert.deepEqual(top[0], {token: ' from', logprob: -0.2, bytes: [...Buffer.from(' from')]})
    const chunks = sse(
      await post(fake, '/chat/completions', chatBody({logprobs: true, top_logprobs: 3, max_tokens: 2, stream: true})),
      'CreateChatCompletionStreamResponse',
    )
    const streamed = chunks.flatMap((c) => {
      const lp = choicesOf(c)[0].logprobs as Obj | null
      return lp ? (lp.content as Obj[]) : []
    })
    assert.deepEqual(streamed, content)
    const plain = ok(await post(fake, '/chat/completions', chatBody({logprobs: true})), 'CreateChatCompletionResponse')
    assert.ok(
      ((choicesOf(plain)[0].logprobs as Obj).content as Obj[]).every(
        (c) => Array.isArray(c.top_logprobs) && (c.top_logprobs as unknown[]).length === 0,
      ),
    )
  })

  it('chat uses the answer option', async () => {
    await withFake({answer: (body, k) => `${String(body.model)} says ${k}`}, async (own) => {
      const data = ok(await post(own, '/chat/completions', chatBody({n: 2})), 'CreateChatCompletionResponse')
      assert.deepEqual(
        choicesOf(data).map((c) => messageOf(c).content),
        ['gpt-4o-mini says 0', 'gpt-4o-mini says 1'],
      )
    })
  })

  it('chat request errors name the param', async () => {
    apiError(
      await post(fake, '/chat/completions', {messages: [{role: 'user', content: 'x'}]}),
      400,
      'model',
      'missing_required_parameter',
    )
    apiError(
      await post(fake, '/chat/completions', {model: 7, messages: [{role: 'user', content: 'x'}]}),
      400,
      'model',
      'invalid_type',
    )
    apiError(await post(fake, '/chat/completions', {model: 'gpt-4o-mini'}), 400, 'messages')
    apiError(await post(fake, '/chat/completions', {model: 'gpt-4o-mini', messages: 'hi'}), 400, 'messages')
    apiError(await post(fake, '/chat/completions', {model: 'gpt-4o-mini', messages: []}), 400, 'messages')
    apiError(await post(fake, '/chat/completions', chatBody({n: 11})), 400, 'n')
    apiError(
      await post(fake, '/chat/completions', chatBody({stream_options: {include_usage: true}})),
      400,
      'stream_options',
    )
    apiError(await post(fake, '/chat/completions', chatBody({top_logprobs: 2})), 400, 'top_logprobs')
    const bad = apiError(await call(fake, 'POST', '/v1/chat/completions', {rawBody: '{"model": '}), 400, null)
    assert.match(bad.message as string, /could not parse the JSON body/)
    const error = apiError(await call(fake, 'POST', '/v1/chat/complete', {body: chatBody()}), 404, null)
    assert.equal(error.message, 'Invalid URL (POST /v1/chat/complete)')
    apiError(await call(fake, 'GET', '/v1/chat/completions'), 404, null)
  })

  it('auth: missing bearer and, with `keys`, unknown keys get 401', async () => {
    apiError(await call(fake, 'GET', '/v1/models', {key: null}), 401, null)
    await withFake({keys: ['sk-good-0000']}, async (own) => {
      ok(await call(own, 'GET', '/v1/models', {key: 'sk-good-0000'}), 'ListModelsResponse')
      const error = apiError(
        await call(own, 'GET', '/v1/models', {key: 'sk-bad-00001234'}),
        401,
        null,
        'invalid_api_key',
      )
      assert.match(error.message as string, /sk-\*\*\*\*1234/)
      assert.deepEqual(
        own.requests.map((r) => r.key),
        ['sk-good-0000', 'sk-bad-00001234'],
      )
    })
  })

  it('legacy completions, non-stream: array prompt, n, index = prompt_idx * n + k', async () => {
    const data = ok(
      await post(fake, '/completions', {model: 'gpt-3.5-turbo-instruct', prompt: ['Say A', 'Say B'], n: 2}),
      'CreateCompletionResponse',
    )
    assert.match(data.id as string, /^cmpl-/)
    assert.equal(data.object, 'text_completion')
    const choices = choicesOf(data)
    assert.deepEqual(
      choices.map((c) => c.index),
      [0, 1, 2, 3],
    )
    assert.deepEqual(
      choices.map((c) => c.text),
      [
        'Hello from the fake upstream: Say A',
        'Hello from the fake upstream: Say A (choice 1)',
        'Hello from the fake upstream: Say B',
        'Hello from the fake upstream: Say B (choice 1)',
      ],
    )
    assert.ok(choices.every((c) => c.logprobs === null && c.finish_reason === 'stop'))
    assert.deepEqual(data.usage, {prompt_tokens: 4, completion_tokens: 7 + 9 + 7 + 9, total_tokens: 36})
  })

  it('legacy completions: max_tokens defaults to 16, echo, stop, logprobs', async () => {
    const long = Array.from({length: 20}, (_, i) => `w${i}`).join(' ')
    const capped = ok(await post(fake, '/completions', {model: 'm', prompt: long}), 'CreateCompletionResponse')
    assert.equal(choicesOf(capped)[0].finish_reason, 'length')
    assert.equal((capped.usage as Obj).completion_tokens, 16)
    const echoed = ok(
      await post(fake, '/completions', {model: 'm', prompt: 'Q: hi\nA:', echo: true, max_tokens: 2, logprobs: 2}),
      'CreateCompletionResponse',
    )
    const choice = choicesOf(echoed)[0]
    assert.equal(choice.text, 'Q: hi\nA:Hello from')
    const lp = choice.logprobs as Obj
    assert.deepEqual(lp.tokens, ['Q:', ' hi', '\nA:', 'Hello', ' from'])
    assert.deepEqual(lp.text_offset, [0, 2, 5, 8, 13])
    assert.deepEqual((lp.top_logprobs as Obj[])[4], {' from': -0.2, ' from~1': -1.2})
    const stopped = ok(
      await post(fake, '/completions', {model: 'm', prompt: 'x', stop: ['fake']}),
      'CreateCompletionResponse',
    )
    assert.equal(choicesOf(stopped)[0].text, 'Hello from the ')
  })

  it('legacy completions, stream: chunks, interleaving, usage chunk, concatenation', async () => {
    const body = {model: 'm', prompt: ['Say A', 'Say B'], n: 2, echo: true}
    const full = ok(await post(fake, '/completions', body), 'CreateCompletionResponse')
    const chunks = sse(
      await post(fake, '/completions', {...body, stream: true, stream_options: {include_usage: true}}),
      'CreateCompletionStreamResponse',
    )
    const last = chunks.pop() as Obj
    assert.deepEqual(last.choices, [])
    assert.deepEqual(last.usage, full.usage)
    assert.ok(chunks.every((c) => c.object === 'text_completion' && !('usage' in c)))
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1)
    assert.deepEqual(
      chunks.slice(0, 4).map((c) => choicesOf(c)[0].index),
      [0, 1, 2, 3],
    )
    const collected = collectLegacy(chunks)
    for (const choice of choicesOf(full))
      assert.deepEqual(collected.get(choice.index as number), {text: choice.text, finish: 'stop'})
    const finals = chunks.filter((c) => choicesOf(c)[0].finish_reason !== null)
    assert.ok(finals.every((c) => choicesOf(c)[0].text === ''))
    // the official CreateCompletionResponse rejects the (real-world) null finish_reason of stream chunks
    assert.equal(matchesSchema('CreateCompletionResponse', chunks[0]), false)
    const noUsage = sse(
      await post(fake, '/completions', {model: 'm', prompt: 'x', stream: true}),
      'CreateCompletionStreamResponse',
    )
    assert.ok(noUsage.every((c) => choicesOf(c).length === 1))
  })

  it('embeddings: float (default), deterministic unit vectors of 8 dimensions', async () => {
    const data = ok(
      await post(fake, '/embeddings', {model: 'text-embedding-3-small', input: ['alpha', 'beta gamma']}),
      'CreateEmbeddingResponse',
    )
    const items = data.data as Obj[]
    assert.deepEqual(
      items.map((d) => [d.object, d.index]),
      [
        ['embedding', 0],
        ['embedding', 1],
      ],
    )
    const a = items[0].embedding as number[]
    assert.equal(a.length, 8)
    assert.ok(Math.abs(Math.hypot(...a) - 1) < 1e-6)
    assert.deepEqual(a, fakeEmbedding('alpha'))
    assert.notDeepEqual(a, items[1].embedding)
    assert.deepEqual(data.usage, {prompt_tokens: 3, total_tokens: 3})
    assert.equal(data.model, 'text-embedding-3-small')
    const again = ok(
      await post(fake, '/embeddings', {model: 'text-embedding-3-small', input: 'alpha'}),
      'CreateEmbeddingResponse',
    )
    assert.deepEqual((again.data as Obj[])[0].embedding, a)
    const wide = ok(
      await post(fake, '/embeddings', {model: 'm', input: [[1, 2, 3], [4]], dimensions: 20}),
      'CreateEmbeddingResponse',
    )
    assert.equal(((wide.data as Obj[])[1].embedding as number[]).length, 20)
    assert.deepEqual(wide.usage, {prompt_tokens: 4, total_tokens: 4})
    ok(await post(fake, '/embeddings', {model: 'm', input: [1, 2, 3]}), 'CreateEmbeddingResponse')
    apiError(await post(fake, '/embeddings', {model: 'm', input: ''}), 400, 'input')
    apiError(await post(fake, '/embeddings', {model: 'm', input: [{}]}), 400, 'input')
    apiError(await post(fake, '/embeddings', {model: 'm'}), 400, 'input')
    apiError(await post(fake, '/embeddings', {input: 'x'}), 400, 'model')
    apiError(await post(fake, '/embeddings', {model: 'm', input: 'x', encoding_format: 'hex'}), 400, 'encoding_format')
  })

  it('embeddings: base64 decodes (little-endian float32) to the float values', async () => {
    const body = {model: 'text-embedding-3-small', input: ['alpha', 'beta gamma'], dimensions: 12}
    const floats = ok(await post(fake, '/embeddings', body), 'CreateEmbeddingResponse')
    const reply = await post(fake, '/embeddings', {...body, encoding_format: 'base64'})
    const data = json(reply)
    // the official schema only describes float arrays: the raw base64 response does not match it ...
    assert.equal(matchesSchema('CreateEmbeddingResponse', data), false)
    const items = data.data as Obj[]
    assert.ok(items.every((d) => typeof d.embedding === 'string'))
    const decoded = {...data, data: items.map((d) => ({...d, embedding: decodeFloat32(d.embedding as string)}))}
    // ... once decoded it does, and equals the float response exactly
    assertSchema('CreateEmbeddingResponse', decoded)
    assert.deepEqual(decoded, floats)
  })

  it('images: url (default) and b64_json; revised_prompt only for dall-e-3', async () => {
    const urls = ok(
      await post(fake, '/images/generations', {model: 'dall-e-2', prompt: 'a cat', n: 2}),
      'ImagesResponse',
    )
    assert.ok(Number.isInteger(urls.created))
    assert.deepEqual(urls.data, [{url: 'https://fake.example/img/0.png'}, {url: 'https://fake.example/img/1.png'}])
    const b64 = ok(
      await post(fake, '/images/generations', {model: 'dall-e-3', prompt: 'a cat', response_format: 'b64_json'}),
      'ImagesResponse',
    )
    const [image] = b64.data as Obj[]
    assert.equal(image.b64_json, FAKE_PNG_BASE64)
    assert.deepEqual(
      [...Buffer.from(image.b64_json as string, 'base64').subarray(0, 8)],
      [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    )
    assert.equal(image.revised_prompt, 'a cat (revised by the fake upstream)')
    const d3 = ok(await post(fake, '/images/generations', {model: 'dall-e-3', prompt: 'a dog'}), 'ImagesResponse')
    assert.deepEqual(Object.keys((d3.data as Obj[])[0]).sort(), ['revised_prompt', 'url'])
    apiError(await post(fake, '/images/generations', {model: 'dall-e-3'}), 400, 'prompt')
    apiError(await post(fake, '/images/generations', {model: 'dall-e-3', prompt: 'x', n: 2}), 400, 'n')
    apiError(await post(fake, '/images/generations', {prompt: 'x', response_format: 'png'}), 400, 'response_format')
  })

  it('stream deltas always concatenate to the non-stream content (property)', async () => {
    await withFake({answer: (body) => String(body.user)}, async (own) => {
      const word = fc.stringMatching(/^[a-z.,!]{1,6}$/)
      const gap = fc.constantFrom(' ', '  ', '\n', ' \t')
      const text = fc
        .tuple(
          fc.constantFrom('', ' ', '\n'),
          fc.array(fc.tuple(word, gap), {minLength: 0, maxLength: 12}),
          fc.boolean(),
        )
        .map(([lead, pairs, trailing]) => {
          const joined = lead + pairs.map(([w, g]) => w + g).join('')
          return trailing ? joined : joined.trimEnd()
        })
      await fc.assert(
        fc.asyncProperty(
          text,
          fc.option(fc.integer({min: 0, max: 8}), {nil: undefined}),
          fc.option(fc.constantFrom('a', 'b.', ','), {nil: undefined}),
          async (answer, maxTokens, stop) => {
            const body = chatBody({
              user: answer,
              n: 2,
              ...(maxTokens === undefined ? {} : {max_tokens: maxTokens}),
              ...(stop === undefined ? {} : {stop}),
            })
            const full = ok(await post(own, '/chat/completions', body), 'CreateChatCompletionResponse')
            const chunks = sse(
              await post(own, '/chat/completions', {...body, stream: true}),
              'CreateChatCompletionStreamResponse',
            )
            const collected = collectChat(chunks)
            for (const choice of choicesOf(full)) {
              assert.equal(collected.get(choice.index as number)?.content, messageOf(choice).content)
              assert.equal(collected.get(choice.index as number)?.finish, choice.finish_reason)
            }
            const content = messageOf(choicesOf(full)[0]).content as string
            if (maxTokens === undefined && stop === undefined) assert.equal(content, answer)
            assert.ok(answer.startsWith(content))
          },
        ),
        {numRuns: 40, seed: 20_260_821},
      )
    })
  })
})

describe('FakeOpenAI: faults', {timeout: 30_000}, () => {
  let fake: FakeOpenAI
  before(async () => {
    fake = await FakeOpenAI.start()
  })
  after(() => fake.close())
  beforeEach(() => {
    fake.clearFaults()
    fake.resetStats()
  })

  it('status: default envelopes per status, consumed once, only for that key', async () => {
    const expected: Array<[number, string, string | null]> = [
      [429, 'requests', 'rate_limit_exceeded'],
      [401, 'invalid_request_error', 'invalid_api_key'],
      [500, 'server_error', null],
      [503, 'server_error', null],
      [403, 'request_forbidden', 'unsupported_country_region_territory'],
      [418, 'invalid_request_error', null],
    ]
    for (const [status, type, code] of expected) {
      fake.fault(KEY, {type: 'status', status})
      const error = apiError(await post(fake, '/chat/completions', chatBody()), status, null, code)
      assert.equal(error.type, type)
    }
    fake.fault('sk-other', {type: 'status', status: 429})
    ok(await post(fake, '/chat/completions', chatBody()), 'CreateChatCompletionResponse')
    apiError(await post(fake, '/chat/completions', chatBody(), 'sk-other'), 429, null, 'rate_limit_exceeded')
    ok(await post(fake, '/chat/completions', chatBody(), 'sk-other'), 'CreateChatCompletionResponse')
  })

  it('status: custom body and headers; times; "*"; Infinity; clearFaults', async () => {
    fake.fault(
      '*',
      {
        type: 'status',
        status: 429,
        body: {error: {message: 'quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota'}},
        headers: {'Retry-After': '7'},
      },
      2,
    )
    const first = await post(fake, '/chat/completions', chatBody(), 'sk-one')
    assert.equal(apiError(first, 429, null, 'insufficient_quota').message, 'quota')
    assert.equal(first.headers['retry-after'], '7')
    assert.equal(first.headers['x-ratelimit-remaining-requests'], '0')
    assert.match(first.headers['x-request-id'], /^req_\d+$/)
    apiError(await post(fake, '/chat/completions', chatBody(), 'sk-two'), 429, null)
    ok(await post(fake, '/chat/completions', chatBody(), 'sk-one'), 'CreateChatCompletionResponse')
    fake.fault(KEY, {type: 'status', status: 500}, Infinity)
    for (let i = 0; i < 3; i++) apiError(await post(fake, '/chat/completions', chatBody()), 500, null)
    fake.clearFaults()
    ok(await post(fake, '/chat/completions', chatBody()), 'CreateChatCompletionResponse')
    // faults are consumed first-queued first
    fake.fault('*', {type: 'status', status: 502})
    fake.fault(KEY, {type: 'status', status: 503})
    apiError(await post(fake, '/chat/completions', chatBody()), 502, null)
    apiError(await post(fake, '/chat/completions', chatBody()), 503, null)
  })

  it('requests are recorded, faulted ones included', async () => {
    fake.fault(KEY, {type: 'status', status: 429})
    await post(fake, '/chat/completions', chatBody({n: 1}))
    await call(fake, 'GET', '/v1/models?limit=2', {key: 'sk-x'})
    assert.equal(fake.requests.length, 2)
    const [first, second] = fake.requests
    assert.deepEqual(
      {method: first.method, path: first.path, key: first.key, body: first.body},
      {method: 'POST', path: '/v1/chat/completions', key: KEY, body: chatBody({n: 1})},
    )
    assert.equal(first.headers.authorization, `Bearer ${KEY}`)
    assert.equal(first.headers['content-type'], 'application/json')
    assert.ok(Math.abs(first.at - Date.now()) < 5_000)
    assert.deepEqual(
      {method: second.method, path: second.path, key: second.key, body: second.body},
      {method: 'GET', path: '/v1/models?limit=2', key: 'sk-x', body: undefined},
    )
  })

  it('hang: no answer within 300 ms; counted in flight until the client leaves', async () => {
    fake.fault(KEY, {type: 'hang'})
    const started = Date.now()
    await assert.rejects(
      call(fake, 'POST', '/v1/chat/completions', {body: chatBody(), timeoutMs: 300}),
      (error: Error) => /abort|timeout/i.test(`${error.name} ${error.message}`),
    )
    assert.ok(Date.now() - started >= 290)
    assert.equal(fake.requests.length, 1)
    assert.deepEqual(fake.requests[0].body, chatBody())
    assert.equal(fake.maxInFlight(KEY), 1)
    await waitFor(() => fake.inFlight(KEY) === 0)
    ok(await post(fake, '/chat/completions', chatBody()), 'CreateChatCompletionResponse')
  })

  it('hang: close() ends hanging requests', async () => {
    const own = await FakeOpenAI.start()
    own.fault('*', {type: 'hang'}, Infinity)
    const pending = call(own, 'POST', '/v1/chat/completions', {body: chatBody(), timeoutMs: 5_000}).then(
      () => 'answered',
      (error: Error) => `failed: ${error.message}`,
    )
    await waitFor(() => own.inFlight(KEY) === 1)
    const started = Date.now()
    await own.close()
    const outcome = await pending
    assert.match(outcome, /^failed/)
    assert.ok(Date.now() - started < 1_000, 'close() does not wait for the hanging request')
  })

  it('die-before-body: 200 headers, then the connection drops', async () => {
    fake.fault(KEY, {type: 'die-before-body'}, 2)
    const plain = await post(fake, '/chat/completions', chatBody())
    assert.equal(plain.status, 200)
    assert.equal(plain.headers['content-type'], 'application/json')
    assert.ok(plain.error, 'reading the body fails')
    assert.equal(plain.text, '')
    const stream = await post(fake, '/chat/completions', chatBody({stream: true}))
    assert.equal(stream.status, 200)
    assert.equal(stream.headers['content-type'], 'text/event-stream; charset=utf-8')
    assert.ok(stream.error)
    assert.equal(stream.text, '')
    await waitFor(() => fake.inFlight(KEY) === 0)
  })

  it('die-mid-stream: N content chunks then the connection drops, no [DONE]', async () => {
    fake.fault(KEY, {type: 'die-mid-stream', afterChunks: 3})
    const reply = await post(fake, '/chat/completions', chatBody({stream: true, stream_options: {include_usage: true}}))
    assert.equal(reply.status, 200)
    assert.ok(reply.error, 'the client sees the connection break')
    const parsed = parseSseBody(reply.text)
    assert.equal(parsed.done, false)
    assert.equal(parsed.trailing, '')
    for (const event of parsed.events) assertSchema('CreateChatCompletionStreamResponse', event)
    assert.equal(parsed.events.length, 4, 'role chunk + 3 content chunks')
    const collected = collectChat(parsed.events as Obj[])
    assert.deepEqual(collected.get(0), {content: 'Hello from the', finish: null, count: 4})
    fake.fault(KEY, {type: 'die-mid-stream', afterChunks: 0})
    const none = parseSseBody((await post(fake, '/chat/completions', chatBody({stream: true}))).text)
    assert.equal(none.events.length, 1, 'only the role chunk')
    fake.fault(KEY, {type: 'die-mid-stream', afterChunks: 100})
    const all = parseSseBody((await post(fake, '/chat/completions', chatBody({stream: true}))).text)
    assert.equal(all.done, false)
    assert.equal(collectChat(all.events as Obj[]).get(0)?.content, EXPECTED)
    fake.fault(KEY, {type: 'die-mid-stream', afterChunks: 2})
    const legacy = await post(fake, '/completions', {model: 'm', prompt: 'x', stream: true})
    assert.equal(collectLegacy(parseSseBody(legacy.text).events as Obj[]).get(0)?.text, 'Hello from')
  })

  it('die-mid-stream, non-stream: half the JSON body, then the connection drops', async () => {
    const full = await post(fake, '/chat/completions', chatBody())
    fake.fault(KEY, {type: 'die-mid-stream', afterChunks: 1})
    const reply = await post(fake, '/chat/completions', chatBody())
    assert.equal(reply.status, 200)
    assert.ok(reply.error)
    assert.ok(reply.text.length > 0 && reply.text.length < full.text.length)
    assert.equal(reply.text.length, Math.floor(Buffer.byteLength(full.text) / 2))
    assert.throws(() => JSON.parse(reply.text))
  })

  it('garbage: 200 with a body that is not JSON / not SSE JSON', async () => {
    fake.fault(KEY, {type: 'garbage'}, 2)
    const plain = await post(fake, '/chat/completions', chatBody())
    assert.equal(plain.status, 200)
    assert.equal(plain.headers['content-type'], 'application/json')
    assert.equal(plain.error, undefined)
    assert.throws(() => JSON.parse(plain.text))
    const stream = await post(fake, '/chat/completions', chatBody({stream: true}))
    assert.equal(stream.status, 200)
    assert.equal(stream.headers['content-type'], 'text/event-stream; charset=utf-8')
    assert.throws(() => parseSseBody(stream.text), /not valid JSON/)
  })

  it('slow: waits before each chunk (stream) or before answering', async () => {
    fake.fault(KEY, {type: 'slow', chunkDelayMs: 25}, 2)
    const stream = await post(fake, '/chat/completions', chatBody({stream: true, max_tokens: 2}))
    // role + 2 words + finish + [DONE] = 5 waits
    assert.ok(stream.ms >= 5 * 25 - 5, `took ${stream.ms} ms`)
    assert.equal(collectChat(sse(stream, 'CreateChatCompletionStreamResponse')).get(0)?.content, 'Hello from')
    const plain = await post(fake, '/chat/completions', chatBody())
    assert.ok(plain.ms >= 20, `took ${plain.ms} ms`)
    ok(plain, 'CreateChatCompletionResponse')
    const fast = await post(fake, '/chat/completions', chatBody({stream: true, max_tokens: 2}))
    assert.ok(fast.ms < 100, `took ${fast.ms} ms`)
  })

  it('maxInFlight counts overlapping requests (latencyMs)', async () => {
    await withFake({latencyMs: 150}, async (own) => {
      const started = Date.now()
      const replies = await Promise.all([
        ...Array.from({length: 5}, () => post(own, '/chat/completions', chatBody(), 'sk-a')),
        post(own, '/embeddings', {model: 'm', input: 'x'}, 'sk-b'),
      ])
      assert.ok(Date.now() - started < 1_000)
      replies.forEach((r) => assert.equal(r.status, 200))
      assert.equal(own.maxInFlight('sk-a'), 5)
      assert.equal(own.maxInFlight('sk-b'), 1)
      assert.equal(own.maxInFlight('*'), 6)
      assert.equal(own.maxInFlight('sk-none'), 0)
      await waitFor(() => own.inFlight('*') === 0)
      assert.equal(own.inFlight('sk-a'), 0)
      // sequential requests never overlap
      own.resetStats()
      assert.equal(own.maxInFlight('sk-a'), 0)
      assert.equal(own.requests.length, 0)
      for (let i = 0; i < 3; i++) await post(own, '/chat/completions', chatBody(), 'sk-a')
      assert.equal(own.maxInFlight('sk-a'), 1)
      assert.equal(own.requests.length, 3)
    })
  })

  it('chunkDelayMs spaces stream chunks (and overlaps concurrent streams)', async () => {
    await withFake({chunkDelayMs: 20}, async (own) => {
      const started = Date.now()
      const replies = await Promise.all(
        [1, 2, 3].map(() => post(own, '/chat/completions', chatBody({stream: true, max_tokens: 3}), 'sk-s')),
      )
      const elapsed = Date.now() - started
      // role + 3 words + finish + [DONE]: 5 delays between 6 writes
      assert.ok(elapsed >= 5 * 20 - 5, `took ${elapsed} ms`)
      assert.ok(elapsed < 1_000, `took ${elapsed} ms`)
      assert.equal(own.maxInFlight('sk-s'), 3)
      for (const reply of replies)
        assert.equal(collectChat(sse(reply, 'CreateChatCompletionStreamResponse')).get(0)?.content, 'Hello from the')
    })
  })
})

describe('FakeOpenAI: the official openai SDK (v6) talks to it', {timeout: 30_000}, () => {
  let fake: FakeOpenAI
  let client: OpenAI
  before(async () => {
    fake = await FakeOpenAI.start()
    client = new OpenAI({apiKey: KEY, baseURL: fake.baseUrl, maxRetries: 0, timeout: 5_000})
  })
  after(() => fake.close())
  afterEach(() => fake.clearFaults())

  it('chat, streaming chat, embeddings (SDK default base64), models', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{role: 'user', content: 'Say hello to the test'}],
    })
    assert.equal(completion.choices[0].message.content, EXPECTED)
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{role: 'user', content: 'Say hello to the test'}],
      stream: true,
      stream_options: {include_usage: true},
    })
    let text = ''
    let usage: unknown
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      if (chunk.usage) usage = chunk.usage
    }
    assert.equal(text, EXPECTED)
    assert.deepEqual(usage, completion.usage)
    const embedding = await client.embeddings.create({model: 'text-embedding-3-small', input: 'alpha'})
    assert.equal((fake.requests.at(-1)?.body as Obj).encoding_format, 'base64', 'the SDK asks for base64 by default')
    assert.deepEqual(embedding.data[0].embedding, fakeEmbedding('alpha'))
    const models = await client.models.list()
    assert.equal(models.data.length, 4)
  })

  it('maps a 429 fault to RateLimitError with the request id', async () => {
    fake.fault(KEY, {type: 'status', status: 429})
    await assert.rejects(
      client.chat.completions.create({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'x'}]}),
      (error: unknown) => {
        assert.ok(error instanceof RateLimitError)
        assert.equal(error.status, 429)
        assert.equal(error.code, 'rate_limit_exceeded')
        assert.match(error.requestID ?? '', /^req_\d+$/)
        return true
      },
    )
  })
})
