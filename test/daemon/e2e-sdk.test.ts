import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import OpenAI from 'openai'

import {readLedger} from '../../src/core/ledger.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FAKE_PNG_BASE64, FakeOpenAI, fakeEmbedding} from '../helpers/fake-openai.js'
import {assertSchema, parseSseBody} from '../helpers/openapi.js'

const KEY_A = 'sk-e2e-key-a-abcdefghijklmnopqrstu1111'
const KEY_B = 'sk-e2e-key-b-abcdefghijklmnopqrstu2222'

/**
 * The official `openai` npm package, unchanged, against `gptconv serve` backed by a fake
 * OpenAI upstream: every endpoint, both chat modes, and every response and stream chunk
 * validated against the official OpenAPI schemas.
 */
describe('the official SDK against gptconv (OpenAI passthrough)', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon
  let sdk: OpenAI

  before(async () => {
    fake = await FakeOpenAI.start({keys: [KEY_A, KEY_B]})
    gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: fake.baseUrl, modelMap: {'gpt-4': 'gpt-4o'}}},
      tokens: [
        {label: 'a', secret: KEY_A, upstream: 'fake'},
        {label: 'b', secret: KEY_B, upstream: 'fake'},
      ],
      settings: {aliases: {fast: 'gpt-4o-mini'}},
    })
    sdk = new OpenAI({baseURL: gw.url, apiKey: gw.clientKey, maxRetries: 0})
  })
  after(async () => {
    await gw?.stop()
    await fake?.close()
  })

  it('chat, non-stream: the SDK gets the upstream answer, with its request id', async () => {
    const {data, response, request_id} = await sdk.chat.completions
      .create({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'Say hi'}]})
      .withResponse()
    assert.equal(data.object, 'chat.completion')
    assert.equal(data.choices[0].message.content, 'Hello from the fake upstream: Say hi')
    assert.match(request_id ?? '', /^req_/)
    assert.equal(response.headers.get('openai-version'), '2020-10-01')
    assert.ok(response.headers.get('x-ratelimit-limit-requests'))
    assertSchema('CreateChatCompletionResponse', data)
  })

  it('chat, stream: deltas arrive as chunks, concatenate to the full answer, and no usage chunk leaks', async () => {
    const stream = await sdk.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{role: 'user', content: 'Stream please'}],
      stream: true,
    })
    let text = ''
    let chunks = 0
    for await (const chunk of stream) {
      chunks++
      assertSchema('CreateChatCompletionStreamResponse', chunk)
      assert.ok(chunk.choices.length > 0, 'no choices:[] usage chunk for a client that did not ask')
      assert.equal('usage' in chunk, false)
      text += chunk.choices[0].delta.content ?? ''
    }

    assert.equal(text, 'Hello from the fake upstream: Stream please')
    assert.ok(chunks > 3)
    const upstreamBody = fake.requests.at(-1)!.body as {stream_options?: {include_usage?: boolean}}
    assert.equal(upstreamBody.stream_options?.include_usage, true, 'gptconv always asks the upstream for usage')
  })

  it('chat, stream with include_usage: exactly one usage chunk, last, with choices: []', async () => {
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {
        model: 'gpt-4o-mini',
        messages: [{role: 'user', content: 'count'}],
        stream: true,
        stream_options: {include_usage: true},
        n: 2,
      },
    })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    const body = parseSseBody(await res.text())
    assert.equal(body.done, true)
    for (const event of body.events) assertSchema('CreateChatCompletionStreamResponse', event)
    const usageChunks = body.events.filter((e) => (e as {usage?: unknown}).usage)
    assert.equal(usageChunks.length, 1)
    assert.deepEqual((body.events.at(-1) as {choices: unknown[]}).choices, [])
    const indexes = new Set(
      body.events.flatMap((e) => (e as {choices: Array<{index: number}>}).choices.map((c) => c.index)),
    )
    assert.deepEqual([...indexes].sort(), [0, 1])
  })

  it('models: list and retrieve, OpenAI list format', async () => {
    const list = await sdk.models.list()
    const ids = list.data.map((m) => m.id)
    for (const id of ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small', 'gpt-4', 'fast'])
      assert.ok(ids.includes(id), id)
    const raw = await (await gw.api('/v1/models')).json()
    assertSchema('ListModelsResponse', raw)
    const one = await sdk.models.retrieve('gpt-4o')
    assertSchema('Model', one)
    assert.equal(one.id, 'gpt-4o')
    await assert.rejects(sdk.models.retrieve('no-such-model'), (e: unknown) => e instanceof OpenAI.NotFoundError)
  })

  it('embeddings: the SDK default (base64) decodes to the upstream floats; float on request', async () => {
    const viaSdk = await sdk.embeddings.create({model: 'text-embedding-3-small', input: 'hello'})
    const expected = fakeEmbedding('hello')
    assert.deepEqual(viaSdk.data[0].embedding, expected)
    assert.equal(
      (fake.requests.at(-1)!.body as {encoding_format?: string}).encoding_format,
      'base64',
      'the SDK asked for base64 and gptconv passed it on',
    )
    const floats = await (
      await gw.api('/v1/embeddings', {
        method: 'POST',
        json: {model: 'text-embedding-3-small', input: ['a', 'b'], encoding_format: 'float'},
      })
    ).json()
    assertSchema('CreateEmbeddingResponse', floats)
    assert.equal((floats as {data: unknown[]}).data.length, 2)
  })

  it('images: url and b64_json', async () => {
    const urls = await sdk.images.generate({model: 'dall-e-3', prompt: 'a cat'})
    assertSchema('ImagesResponse', urls)
    assert.match(urls.data?.[0].url ?? '', /^https:\/\//)
    const b64 = await sdk.images.generate({model: 'dall-e-2', prompt: 'a dog', n: 2, response_format: 'b64_json'})
    assertSchema('ImagesResponse', b64)
    assert.deepEqual(
      b64.data?.map((d) => d.b64_json),
      [FAKE_PNG_BASE64, FAKE_PNG_BASE64],
    )
  })

  it('aliases and the upstream modelMap rename the model on the way up', async () => {
    await sdk.chat.completions.create({model: 'fast', messages: [{role: 'user', content: 'x'}]})
    assert.equal((fake.requests.at(-1)!.body as {model: string}).model, 'gpt-4o-mini')
    await sdk.chat.completions.create({model: 'gpt-4', messages: [{role: 'user', content: 'x'}]})
    assert.equal((fake.requests.at(-1)!.body as {model: string}).model, 'gpt-4o')
  })

  it('upstream errors about the request reach the client as they are', async () => {
    await assert.rejects(
      sdk.chat.completions.create({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'x'}], top_logprobs: 2}),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'top_logprobs',
    )
  })

  it('records every finished request in the usage ledger', async () => {
    await sdk.chat.completions.create({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'ledger check'}]})
    await new Promise((resolve) => setTimeout(resolve, 50))
    const records = await readLedger(gw.ctx.paths.ledger)
    const last = records.at(-1)!
    assert.equal(last.endpoint, 'chat')
    assert.equal(last.model, 'gpt-4o-mini')
    assert.ok(['a', 'b'].includes(last.token))
    assert.equal(last.upstream, 'fake')
    assert.equal(last.status, 200)
    assert.ok(last.prompt_tokens > 0 && last.completion_tokens > 0)
    assert.equal(last.estimated, false)
    assert.ok(
      records.some(
        (r) => r.endpoint === 'chat' && r.estimated === false && r.status === 200 && r.completion_tokens > 0,
      ),
      'streams too',
    )
    assert.ok(records.some((r) => r.endpoint === 'embeddings'))
  })

  it('serves Prometheus metrics and health without the key', async () => {
    const metrics = await (await fetch(`${gw.origin}/metrics`)).text()
    assert.match(metrics, /gptconv_requests_total\{route="chat",status="200"\} \d+/)
    // per upstream: token labels (often e-mail addresses) stay out of the open endpoint
    assert.match(metrics, /gptconv_tokens_total\{upstream="fake",model="gpt-4o-mini",type="completion"\} \d+/)
    assert.match(metrics, /gptconv_in_flight\{upstream="fake"\} 0/)
    // every upstream attempt is counted by upstream and outcome
    const ok = /gptconv_upstream_attempts_total\{upstream="fake",outcome="ok"\} (\d+)/.exec(metrics)
    assert.ok(ok && Number(ok[1]) >= 3, metrics)
    const health = (await (await fetch(`${gw.origin}/healthz`)).json()) as {status: string; tokens: number}
    assert.deepEqual([health.status, health.tokens], ['ok', 2])
  })
})
