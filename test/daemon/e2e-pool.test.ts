import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, afterEach, before, describe, it} from 'node:test'
import OpenAI from 'openai'

import {listTokens} from '../../src/core/tokens.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'
import {parseSseBody} from '../helpers/openapi.js'

const A = 'sk-pool-key-a-abcdefghijklmnopqrst1111'
const B = 'sk-pool-key-b-abcdefghijklmnopqrst2222'
const ONE = 'sk-pool-key-1-abcdefghijklmnopqrst3333'
const chat = (content = 'hi') => ({model: 'gpt-4o-mini', messages: [{role: 'user' as const, content}]})
const streamChat = (content: string) => ({...chat(content), stream: true as const})

type Snapshot = {
  queue: number
  tokens: Array<{
    label: string
    inFlight: number
    state: string
    coolingUntil: string | null
    disabled: {reason: string} | null
    failures: number
  }>
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await sleep(10)
  }

  throw new Error(`condition not met within ${timeoutMs} ms`)
}

describe('the pool behind the daemon', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon
  let sdk: OpenAI
  const pool = async () => (await (await gw.api('/admin/pool')).json()) as Snapshot
  const token = async (label: string) => (await pool()).tokens.find((t) => t.label === label)!

  before(async () => {
    fake = await FakeOpenAI.start({keys: [A, B, ONE], latencyMs: 40})
    gw = await startTestDaemon({
      upstreams: {
        fake: {protocol: 'openai', baseUrl: fake.baseUrl, models: ['gpt-4o-mini']},
        solo: {protocol: 'openai', baseUrl: fake.baseUrl, models: ['solo-model']},
      },
      tokens: [
        {label: 'a', secret: A, upstream: 'fake'},
        {label: 'b', secret: B, upstream: 'fake'},
        {label: 'one', secret: ONE, upstream: 'solo', concurrency: 1},
      ],
      settings: {
        pool: {
          firstByteTimeoutMs: 400,
          idleTimeoutMs: 400,
          queueTimeoutMs: 5000,
          drainTimeoutMs: 2000,
          cooldownMs: 300,
        },
      },
    })
    sdk = new OpenAI({baseURL: gw.url, apiKey: gw.clientKey, maxRetries: 0})
  })
  afterEach(() => {
    fake.clearFaults()
    fake.resetStats()
  })
  after(async () => {
    if (process.env.DEBUG_LOGS) for (const l of gw.logs) if (/"level":(40|50)/.test(l)) console.error(l)
    await gw?.stop()
    await fake?.close()
  })

  it('two keys share the load', async () => {
    await Promise.all(Array.from({length: 12}, (_, i) => sdk.chat.completions.create(chat(`load ${i}`))))
    const byKey = (key: string) => fake.requests.filter((r) => r.key === key).length
    assert.equal(byKey(A) + byKey(B), 12)
    assert.ok(byKey(A) >= 4 && byKey(B) >= 4, `a=${byKey(A)} b=${byKey(B)}`)
  })

  it('a key with concurrency 1 never has two requests in flight; the rest queue', async () => {
    const solo = {model: 'solo-model', messages: [{role: 'user' as const, content: 'q'}]}
    const results = await Promise.all(Array.from({length: 6}, () => sdk.chat.completions.create(solo)))
    assert.equal(results.length, 6)
    assert.equal(fake.maxInFlight(ONE), 1)
    assert.equal(fake.requests.filter((r) => r.key === ONE).length, 6)
  })

  it('a 429 on one key is invisible to the client while another key is free; the key comes back by itself', async () => {
    fake.fault(A, {type: 'status', status: 429, headers: {'retry-after': '2'}})
    const answers = await Promise.all([sdk.chat.completions.create(chat('x')), sdk.chat.completions.create(chat('y'))])
    assert.ok(answers.every((a) => a.choices[0].message.content))
    const a = await token('a')
    assert.equal(a.state, 'cooling-down')
    assert.ok(Date.parse(a.coolingUntil!) - Date.now() > 1000, 'Retry-After honoured')
    await waitFor(() => listTokens(gw.ctx, ['a'])[0].state === 'cooling-down', 2000)
    await waitFor(async () => (await token('a')).state === 'ok', 3000)
  })

  it('a 429 on the only key queues the request until Retry-After, then it succeeds', async () => {
    fake.fault(ONE, {type: 'status', status: 429, headers: {'retry-after': '1'}})
    const started = Date.now()
    const answer = await sdk.chat.completions.create({
      model: 'solo-model',
      messages: [{role: 'user', content: 'patience'}],
    })
    assert.ok(answer.choices[0].message.content)
    assert.ok(Date.now() - started >= 900, 'waited for the cooldown')
    assert.equal(fake.requests.filter((r) => r.key === ONE).length, 2)
  })

  it('a 5xx, a hang, a garbage body and a body cut before it is complete all fail over to another key', async () => {
    for (const fault of [
      {type: 'status', status: 500},
      {type: 'hang'},
      {type: 'garbage'},
      {type: 'die-before-body'},
      {type: 'die-mid-stream', afterChunks: 1},
    ] as const) {
      // whichever key is chosen first fails once; the retry goes to the other
      fake.fault('*', fault, 1)
      const answer = await sdk.chat.completions.create(chat(`failover ${fault.type}`))
      assert.equal(
        answer.choices[0].message.content,
        `Hello from the fake upstream: failover ${fault.type}`,
        fault.type,
      )
    }

    const snapshot = await pool()
    assert.ok(snapshot.tokens.filter((t) => t.label !== 'one').reduce((n, t) => n + t.failures, 0) >= 5)
  })

  it('a hanging upstream on the only key ends in a 504 envelope after maxAttempts', async () => {
    fake.fault(ONE, {type: 'hang'}, 5)
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'solo-model', messages: [{role: 'user', content: 'hang'}]},
    })
    assert.equal(res.status, 504)
    const body = (await res.json()) as {error: {code: string; type: string; message: string}}
    assert.equal(body.error.code, 'upstream_timeout')
    assert.equal(fake.requests.filter((r) => r.key === ONE).length, 3, 'pool.maxAttempts = 3')
    fake.clearFaults()
    await waitFor(async () => (await token('one')).state === 'ok', 2000)
  })

  it('an upstream that dies mid-stream gives one in-band error event, never a silent truncation, and the daemon stays up', async () => {
    fake.fault('*', {type: 'die-mid-stream', afterChunks: 3})
    const res = await gw.api('/v1/chat/completions', {method: 'POST', json: streamChat('a long answer please')})
    assert.equal(res.status, 200)
    const text = await res.text()
    const body = parseSseBody(text)
    assert.equal(body.done, false, 'no [DONE] after an error')
    const last = body.events.at(-1) as {error?: {code: string; type: string; message: string; param: null}}
    assert.equal(last.error?.code, 'upstream_stream_error')
    assert.equal(last.error?.type, 'server_error')
    assert.equal(body.events.filter((e) => (e as {error?: unknown}).error).length, 1)
    assert.ok(body.events.length >= 4, 'the chunks before the break were relayed')
    const again = await sdk.chat.completions.create(chat('still alive?'))
    assert.ok(again.choices[0].message.content)
  })

  it('stream gaps under pool.idleTimeoutMs are fine; silence longer than it on every attempt is a 504', async () => {
    fake.fault('*', {type: 'slow', chunkDelayMs: 250})
    const ok = parseSseBody(
      await (await gw.api('/v1/chat/completions', {method: 'POST', json: streamChat('slow but steady')})).text(),
    )
    assert.equal(ok.done, true)
    // undici's body timer is coarse (about 0.5 s ticks): make the silence clearly longer than the timeout
    fake.fault('*', {type: 'slow', chunkDelayMs: 2500}, 3)
    const res = await gw.api('/v1/chat/completions', {method: 'POST', json: streamChat('too slow')})
    assert.equal(res.status, 504)
    assert.equal(((await res.json()) as {error: {code: string}}).error.code, 'upstream_timeout')
    await waitFor(async () => (await pool()).tokens.every((t) => t.label === 'one' || t.state === 'ok'), 2000)
  })

  it('the SDK raises on the in-band error', async () => {
    fake.fault('*', {type: 'die-mid-stream', afterChunks: 2})
    const stream = await sdk.chat.completions.create(streamChat('break'))
    await assert.rejects(
      (async () => {
        for await (const _ of stream) void _
      })(),
      (e: unknown) => e instanceof OpenAI.APIError && /broke off the answer/.test(e.message),
    )
  })

  it('an aborted client stream frees its slot at once and aborts the upstream request', async () => {
    fake.fault(ONE, {type: 'slow', chunkDelayMs: 200})
    const controller = new AbortController()
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'solo-model', messages: [{role: 'user', content: 'slow'}], stream: true},
      signal: controller.signal,
    })
    const reader = res.body!.getReader()
    await reader.read()
    assert.equal((await token('one')).inFlight, 1)
    controller.abort()
    await waitFor(async () => (await token('one')).inFlight === 0, 1000)
    await waitFor(() => fake.inFlight(ONE) === 0, 1000)
    const next = await sdk.chat.completions.create({model: 'solo-model', messages: [{role: 'user', content: 'next'}]})
    assert.ok(next.choices[0].message.content, 'the concurrency-1 slot is free again')
  })

  it('a 401 disables the key with the reason persisted for `tokens list`, and the request still succeeds', async () => {
    // an upstream that echoes the whole key back (some do): gptconv must mask it everywhere
    fake.fault(B, {
      type: 'status',
      status: 401,
      body: {
        error: {
          message: `Incorrect API key provided: ${B}.`,
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      },
    })
    for (let i = 0; i < 4; i++) await sdk.chat.completions.create(chat(`after 401 #${i}`))
    const b = await token('b')
    assert.equal(b.state, 'disabled')
    assert.match(b.disabled!.reason, /upstream answered 401: Incorrect API key provided/)
    assert.ok(
      b.disabled!.reason.includes('sk-…2222') && !b.disabled!.reason.includes(B),
      'the key is masked in the reason',
    )
    assert.ok(!gw.logs.some((line) => line.includes(B)), 'nor in any log line')
    await waitFor(() => listTokens(gw.ctx, ['b'])[0].state === 'disabled')
    assert.match(listTokens(gw.ctx, ['b'])[0].reason ?? '', /401/)
    assert.equal(JSON.parse(readFileSync(gw.ctx.paths.runtime, 'utf8')).tokens.b.disabled.reason, b.disabled!.reason)
  })

  it('with every key of a model disabled: a clear 503 naming the cause', async () => {
    fake.fault(A, {type: 'status', status: 403})
    const res = await gw.api('/v1/chat/completions', {method: 'POST', json: chat('nobody left')})
    assert.equal(res.status, 503)
    const body = (await res.json()) as {error: {code: string; message: string}}
    assert.equal(body.error.code, 'no_available_tokens')
    assert.match(body.error.message, /a: disabled \(upstream answered 403/)
    assert.match(body.error.message, /b: disabled \(upstream answered 401/)
  })
})
