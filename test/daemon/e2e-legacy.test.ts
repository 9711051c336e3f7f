import assert from 'node:assert/strict'
import type {IncomingMessage} from 'node:http'
import {after, afterEach, before, describe, it} from 'node:test'
import OpenAI from 'openai'
import {Configuration, OpenAIApi} from 'openai-v3'

import {encodingFor} from '../../src/core/tokenizer.js'
import {setUpstreamUrl} from '../../src/core/upstreams.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI, defaultAnswer} from '../helpers/fake-openai.js'
import {assertSchema, parseSseBody} from '../helpers/openapi.js'

const KEY = 'sk-legacy-key-abcdefghijklmnopqrst7777'
const NATIVE = 'sk-native-key-abcdefghijklmnopqrs8888'
type Legacy = {
  id: string
  object: string
  choices: Array<{
    text: string
    index: number
    finish_reason: string | null
    logprobs: {
      tokens: string[]
      token_logprobs: number[]
      top_logprobs: Array<Record<string, number>>
      text_offset: number[]
    } | null
  }>
  usage?: {prompt_tokens: number; completion_tokens: number; total_tokens: number}
}

/** Per index, the concatenated text and the last finish_reason of a legacy stream. */
function collect(events: unknown[]): Map<number, {text: string; finish: string | null}> {
  const out = new Map<number, {text: string; finish: string | null}>()
  for (const event of events) {
    for (const c of (event as Legacy).choices) {
      const prev = out.get(c.index) ?? {text: '', finish: null}
      out.set(c.index, {text: prev.text + c.text, finish: c.finish_reason ?? prev.finish})
    }
  }

  return out
}

describe('legacy /v1/completions on a chat-only upstream', () => {
  let fake: FakeOpenAI
  let native: FakeOpenAI
  let gw: TestDaemon
  let sdk: OpenAI
  let v3: OpenAIApi

  before(async () => {
    fake = await FakeOpenAI.start({keys: [KEY]})
    native = await FakeOpenAI.start({keys: [NATIVE], models: ['davinci-002']})
    gw = await startTestDaemon({
      upstreams: {
        chat: {protocol: 'openai', baseUrl: fake.baseUrl, models: ['gpt-3.5-turbo-instruct', 'gpt-4o-mini', 'ranked']},
        old: {protocol: 'openai', baseUrl: native.baseUrl, models: ['davinci-002'], legacy: 'passthrough'},
      },
      tokens: [
        {label: 'chat', secret: KEY, upstream: 'chat'},
        {label: 'old', secret: NATIVE, upstream: 'old'},
      ],
    })
    sdk = new OpenAI({baseURL: gw.url, apiKey: gw.clientKey, maxRetries: 0})
    v3 = new OpenAIApi(new Configuration({apiKey: gw.clientKey, basePath: gw.url}))
  })
  afterEach(() => fake.resetStats())
  after(async () => {
    await gw?.stop()
    await fake?.close()
    await native?.close()
  })

  it('string prompt: a legacy answer, max_tokens 16 sent upstream, headers forwarded', async () => {
    const {data, response} = await sdk.completions
      .create({model: 'gpt-3.5-turbo-instruct', prompt: 'Say A'})
      .withResponse()
    assertSchema('CreateCompletionResponse', data)
    assert.equal(data.object, 'text_completion')
    assert.match(data.id, /^cmpl-/)
    assert.equal(Number.isInteger(data.created), true)
    assert.deepEqual(
      data.choices.map((c) => [c.index, c.text, c.finish_reason, c.logprobs]),
      [[0, defaultAnswer({messages: [{role: 'user', content: 'Say A'}]}, 0), 'stop', null]],
    )
    assert.ok(data.usage && data.usage.total_tokens === data.usage.prompt_tokens + data.usage.completion_tokens)
    const upstream = fake.requests.at(-1)!
    assert.equal(upstream.path, '/v1/chat/completions')
    assert.deepEqual((upstream.body as {max_tokens: number; messages: unknown}).max_tokens, 16)
    assert.deepEqual((upstream.body as {messages: unknown}).messages, [{role: 'user', content: 'Say A'}])
    assert.match(response.headers.get('x-request-id') ?? '', /^req_/)
    assert.ok(response.headers.get('x-ratelimit-remaining-requests'))
  })

  it('array prompts with n = 2: four choices in prompt-major order, usage summed', async () => {
    const data = await sdk.completions.create({model: 'gpt-3.5-turbo-instruct', prompt: ['Say A', 'Say B'], n: 2})
    assertSchema('CreateCompletionResponse', data)
    assert.deepEqual(
      data.choices.map((c) => [c.index, c.text]),
      [
        [0, 'Hello from the fake upstream: Say A'],
        [1, 'Hello from the fake upstream: Say A (choice 1)'],
        [2, 'Hello from the fake upstream: Say B'],
        [3, 'Hello from the fake upstream: Say B (choice 1)'],
      ],
    )
    assert.equal(fake.requests.length, 2, 'one chat call per prompt')
    const upstreamUsage = fake.requests.length
    assert.ok(upstreamUsage > 0 && data.usage!.prompt_tokens > 0)
  })

  it('streams the same text chunk by chunk, one id, one [DONE], usage only when asked', async () => {
    const whole = await sdk.completions.create({model: 'gpt-3.5-turbo-instruct', prompt: ['Say A', 'Say B'], n: 2})
    for (const includeUsage of [false, true]) {
      const res = await gw.api('/v1/completions', {
        method: 'POST',
        json: {
          model: 'gpt-3.5-turbo-instruct',
          prompt: ['Say A', 'Say B'],
          n: 2,
          stream: true,
          ...(includeUsage && {stream_options: {include_usage: true}}),
        },
      })
      const text = await res.text()
      assert.equal(text.match(/data: \[DONE\]/g)?.length, 1)
      const body = parseSseBody(text)
      assert.equal(body.done, true)
      for (const event of body.events) assertSchema('CreateCompletionStreamResponse', event)
      assert.equal(new Set(body.events.map((e) => (e as Legacy).id)).size, 1)
      const usageEvents = body.events.filter((e) => (e as Legacy).usage)
      assert.equal(usageEvents.length, includeUsage ? 1 : 0)
      if (includeUsage) assert.deepEqual((body.events.at(-1) as Legacy).choices, [])
      const streamed = collect(body.events)
      for (const choice of whole.choices)
        assert.deepEqual(streamed.get(choice.index), {text: choice.text, finish: choice.finish_reason})
    }

    const sdkStream = await sdk.completions.create({model: 'gpt-3.5-turbo-instruct', prompt: 'Say A', stream: true})
    let text = ''
    for await (const chunk of sdkStream) text += chunk.choices[0]?.text ?? ''
    assert.equal(text, 'Hello from the fake upstream: Say A')
  })

  it('the old v3 SDK createCompletion works, non-stream and stream', async () => {
    const res = await v3.createCompletion({
      model: 'gpt-3.5-turbo-instruct',
      prompt: ['Say A', 'Say B'],
      n: 2,
      max_tokens: 4,
    })
    assert.deepEqual(
      res.data.choices.map((c) => [c.index, c.text, c.finish_reason]),
      [
        [0, 'Hello from the fake', 'length'],
        [1, 'Hello from the fake', 'length'],
        [2, 'Hello from the fake', 'length'],
        [3, 'Hello from the fake', 'length'],
      ],
    )
    assert.equal((fake.requests.at(-1)!.body as {max_tokens: number}).max_tokens, 4)
    const streamed = await v3.createCompletion(
      {model: 'gpt-3.5-turbo-instruct', prompt: 'Say A', stream: true},
      {responseType: 'stream'},
    )
    let raw = ''
    for await (const chunk of streamed.data as unknown as IncomingMessage) raw += String(chunk)
    const body = parseSseBody(raw)
    assert.equal(body.done, true)
    assert.equal(collect(body.events).get(0)?.text, 'Hello from the fake upstream: Say A')
  })

  it('echo prefixes the prompt; stop cuts the answer', async () => {
    const echoed = await sdk.completions.create({model: 'gpt-3.5-turbo-instruct', prompt: 'Say A', echo: true})
    assert.equal(echoed.choices[0].text, 'Say AHello from the fake upstream: Say A')
    const stopped = await sdk.completions.create({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Say A',
      stop: [' upstream'],
    })
    assert.deepEqual([stopped.choices[0].text, stopped.choices[0].finish_reason], ['Hello from the fake', 'stop'])
    assert.deepEqual((fake.requests.at(-1)!.body as {stop: string[]}).stop, [' upstream'])
  })

  it('logprobs: N comes back in the legacy shape, with the sampled token among the top ones', async () => {
    const data = await sdk.completions.create({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Say A',
      logprobs: 2,
      max_tokens: 3,
    })
    const upstream = fake.requests.at(-1)!.body as {logprobs: boolean; top_logprobs: number}
    assert.deepEqual([upstream.logprobs, upstream.top_logprobs], [true, 2])
    const lp = data.choices[0].logprobs!
    assert.equal(lp.tokens!.join(''), data.choices[0].text)
    assert.equal(lp.token_logprobs!.length, lp.tokens!.length)
    assert.deepEqual(lp.tokens, ['Hello', ' from', ' the'])
    assert.deepEqual(lp.text_offset, [0, 5, 10])
    for (const [i, top] of lp.top_logprobs!.entries()) {
      assert.equal(top[lp.tokens![i]], lp.token_logprobs![i])
      assert.ok(Object.keys(top).length >= 2 && Object.keys(top).length <= 3)
    }
  })

  it('best_of ranks candidates by mean logprob and is never streamed', async () => {
    // the fake gives token i a logprob of -0.1 * (i + 1): shorter answers rank higher
    const answers = ['a long and winding candidate answer here', 'short', 'medium length answer']
    await fake.close()
    fake = await FakeOpenAI.start({keys: [KEY], answer: (_body, k) => answers[k] ?? 'x'})
    // the upstream moved to another port: its token is moved along on purpose (a stored key does not follow a base URL by itself)
    await setUpstreamUrl(gw.ctx, {name: 'chat', baseUrl: fake.baseUrl, moveTokens: true})
    await new Promise((resolve) => setTimeout(resolve, 400))
    const data = await sdk.completions.create({model: 'gpt-3.5-turbo-instruct', prompt: 'rank', n: 1, best_of: 3})
    assert.deepEqual(
      data.choices.map((c) => c.text),
      ['short'],
    )
    assert.equal((fake.requests.at(-1)!.body as {n: number}).n, 3)
    const res = await gw.api('/v1/completions', {
      method: 'POST',
      json: {model: 'gpt-3.5-turbo-instruct', prompt: 'rank', n: 2, best_of: 3, stream: true},
    })
    const body = parseSseBody(await res.text())
    assert.equal(body.done, true)
    assert.equal(body.events.length, 1, 'one event carrying the whole answer')
    assert.deepEqual(
      (body.events[0] as Legacy).choices.map((c) => [c.index, c.text, c.finish_reason]),
      [
        [0, 'short', 'stop'],
        [1, 'medium length answer', 'stop'],
      ],
    )
  })

  it('token-array prompts are decoded with the model encoding', async () => {
    const encoding = await encodingFor('gpt-3.5-turbo-instruct')
    await sdk.completions.create({model: 'gpt-3.5-turbo-instruct', prompt: encoding.encode('Hello tokens')})
    assert.deepEqual((fake.requests.at(-1)!.body as {messages: unknown}).messages, [
      {role: 'user', content: 'Hello tokens'},
    ])
  })

  it('max_tokens 0 with echo answers locally: the prompt, no upstream call', async () => {
    const data = await sdk.completions.create({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Just me',
      max_tokens: 0,
      echo: true,
    })
    assert.deepEqual(
      data.choices.map((c) => [c.text, c.finish_reason]),
      [['Just me', 'length']],
    )
    assert.equal(fake.requests.length, 0)
  })

  it('refuses suffix with a 400 naming it', async () => {
    await assert.rejects(
      sdk.completions.create({model: 'gpt-3.5-turbo-instruct', prompt: 'a', suffix: 'b'}),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'suffix',
    )
  })

  it('passes through to an upstream marked legacy: passthrough', async () => {
    const data = await sdk.completions.create({model: 'davinci-002', prompt: ['x', 'y'], n: 2, echo: true, logprobs: 1})
    assertSchema('CreateCompletionResponse', data)
    assert.equal(native.requests.at(-1)!.path, '/v1/completions')
    assert.deepEqual(native.requests.at(-1)!.body, {
      model: 'davinci-002',
      prompt: ['x', 'y'],
      n: 2,
      echo: true,
      logprobs: 1,
    })
    assert.equal(data.choices.length, 4)
    const stream = await gw.api('/v1/completions', {
      method: 'POST',
      json: {model: 'davinci-002', prompt: 'x', stream: true},
    })
    const body = parseSseBody(await stream.text())
    assert.equal(body.done, true)
    assert.equal(
      body.events.filter((e) => (e as Legacy).usage).length,
      0,
      'the usage chunk gptconv asked for is removed again',
    )
    assert.equal(
      (native.requests.at(-1)!.body as {stream_options: {include_usage: boolean}}).stream_options.include_usage,
      true,
    )
  })
})
