import assert from 'node:assert/strict'
import {after, afterEach, before, describe, it} from 'node:test'
import OpenAI from 'openai'

import {listTokens} from '../../src/core/tokens.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeChatGPTWeb, type WebShape, defaultWebAnswer, webHttpFault} from '../helpers/fake-chatgpt-web.js'
import {assertSchema, parseSseBody} from '../helpers/openapi.js'

const ALICE = 'alice@example.com'
const BOB = 'bob@example.com'

type Admin = {
  tokens: Array<{
    label: string
    state: string
    coolingReason: string | null
    modelsCooling: Record<string, string>
    disabled: {reason: string} | null
  }>
}

/**
 * Today's ChatGPT web backend, end to end: the shapes it streams (echoed history, thinking
 * messages, marks, interleaved events), answers that end without one (a handoff, a
 * moderation block, an in-band error), and its HTTP refusals (challenges, caps, a too-long
 * message, a revoked token) — with two accounts, so that what moves to another token can.
 */
describe("chatgpt-web upstream: today's backend", () => {
  let web: FakeChatGPTWeb
  let gw: TestDaemon
  let sdk: OpenAI
  const admin = async () => (await (await gw.api('/admin/pool')).json()) as Admin
  const reset = () => {
    gw.daemon.state.pool.update([])
    gw.daemon.state.pool.update(gw.daemon.state.registry.tokens)
  }

  before(async () => {
    web = await FakeChatGPTWeb.start()
    gw = await startTestDaemon({
      upstreams: {web: {protocol: 'chatgpt-web', baseUrl: web.origin}},
      tokens: [
        {label: 'alice', kind: 'access-token', secret: web.issueAccessToken(ALICE), upstream: 'web'},
        {label: 'bob', kind: 'access-token', secret: web.issueAccessToken(BOB), upstream: 'web'},
      ],
      settings: {pool: {queueTimeoutMs: 2000}},
    })
    sdk = new OpenAI({baseURL: gw.url, apiKey: gw.clientKey, maxRetries: 0})
  })
  afterEach(() => {
    web.set({format: 'cumulative', shapes: []})
    web.clearFaults()
    reset()
  })
  after(async () => {
    await gw?.stop()
    await web?.close()
  })

  const ask = (content: string, model = 'gpt-4o') =>
    sdk.chat.completions.create({model, messages: [{role: 'user', content}]})
  const askStream = async (content: string, model = 'gpt-4o') => {
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model, messages: [{role: 'user', content}], stream: true},
    })
    return {status: res.status, body: parseSseBody(await res.text())}
  }

  const streamText = (events: unknown[]) =>
    events.map((e) => (e as {choices?: Array<{delta: {content?: string}}>}).choices?.[0]?.delta.content ?? '').join('')

  for (const format of ['cumulative', 'patch'] as const) {
    it(`${format}: echoed history, thinking messages, marks and interleaved events leave exactly the answer`, async () => {
      const shapes: WebShape[] =
        format === 'patch'
          ? ['echo', 'events', 'mixed-batch', 'truncate', 'thinking', 'marks']
          : ['echo', 'events', 'thinking', 'marks']
      web.set({format, shapes})
      const whole = await ask('What is my name?')
      assertSchema('CreateChatCompletionResponse', whole)
      assert.equal(whole.choices[0].message.content, defaultWebAnswer('What is my name?'))
      const {body} = await askStream('What is my name?')
      for (const event of body.events) assertSchema('CreateChatCompletionStreamResponse', event)
      assert.equal(streamText(body.events), defaultWebAnswer('What is my name?'))
      assert.equal(body.done, true)
    })
  }

  it("maps dotted model names to the web's dashed slugs", async () => {
    await ask('hi', 'gpt-4.1')
    assert.equal(web.conversations.at(-1)!.body.model, 'gpt-4-1')
  })

  it('a handoff (the answer moved to a websocket) is no answer: the request moves to the other account', async () => {
    web.fault('*', {type: 'handoff'})
    const moved = await ask('Anyone?')
    assert.equal(moved.choices[0].message.content, defaultWebAnswer('Anyone?'))
    assert.notEqual(
      web.conversations.at(-1)!.account,
      web.conversations.at(-2)!.account,
      'the second attempt went to the other account',
    )
    web.fault('*', {type: 'handoff'}, 3)
    await assert.rejects(
      ask('Every time'),
      (e: unknown) => e instanceof OpenAI.APIError && e.status === 502,
      'three handoffs, three attempts: a 502, never an empty 200',
    )
    const fine = await ask('Now?')
    assert.equal(fine.choices[0].message.content, defaultWebAnswer('Now?'))
  })

  it('a moderation block ends the answer with finish_reason content_filter', async () => {
    web.fault('*', {type: 'moderation', afterSegments: 2})
    const whole = await ask('Something blocked')
    assert.equal(whole.choices[0].finish_reason, 'content_filter')
    web.fault('*', {type: 'moderation', afterSegments: 2})
    const {body} = await askStream('Something blocked')
    const finishes = body.events
      .map((e) => (e as {choices?: Array<{finish_reason: string | null}>}).choices?.[0]?.finish_reason)
      .filter(Boolean)
    assert.deepEqual(finishes, ['content_filter'])
    assert.equal(body.done, true)
  })

  it('an in-band error after some text: the stream ends with an error event; a non-stream answer is a 5xx', async () => {
    web.fault('*', {
      type: 'error-after-text',
      message: 'Something went wrong while generating the response.',
      code: 'internal_error',
      afterSegments: 2,
    })
    const {status, body} = await askStream('Fail midway')
    assert.equal(status, 200)
    assert.equal(body.done, false)
    const last = body.events.at(-1) as {error?: {message: string}}
    assert.match(last.error?.message ?? '', /Something went wrong/)
    assertSchema('ErrorResponse', last)
    web.fault(ALICE, {type: 'error-after-text', message: 'Something went wrong.', afterSegments: 1}, 3)
    web.fault(BOB, {type: 'error-after-text', message: 'Something went wrong.', afterSegments: 1}, 3)
    await assert.rejects(ask('Fail whole'), (e: unknown) => e instanceof OpenAI.APIError && (e.status ?? 0) >= 500)
  })

  it('a Cloudflare challenge rests the token with the reason shown, never disables it; the other account answers', async () => {
    web.fault(ALICE, webHttpFault('challenge'))
    web.fault(BOB, webHttpFault('challenge'))
    web.fault(ALICE, webHttpFault('unusual-activity'))
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-4o', messages: [{role: 'user', content: 'Behind a challenge'}]},
    })
    assert.equal(
      res.status,
      429,
      'both accounts rest for minutes: the client hears it at once, not after a minute in the queue',
    )
    assert.ok(Number(res.headers.get('retry-after')) >= 500)
    await res.body?.cancel()
    const states = (await admin()).tokens
    assert.deepEqual(
      states.map((t) => t.state),
      ['cooling-down', 'cooling-down'],
      'no token disabled by a challenge',
    )
    assert.ok(states.every((t) => /challenge|Unusual activity/i.test(t.coolingReason ?? '')))
    await new Promise((resolve) => setTimeout(resolve, 400)) // the daemon writes its runtime state within 250 ms
    const listed = listTokens(gw.ctx)
    assert.deepEqual(
      listed.map((t) => t.state),
      ['cooling-down', 'cooling-down'],
    )
    assert.match(listed[0].reason ?? '', /challenge|Unusual activity/i)
  })

  it("a model cap rests the token for that model only, and tells the client the backend's words", async () => {
    web.fault(ALICE, webHttpFault('model-cap', {clearsInS: 300}))
    web.fault(BOB, webHttpFault('model-cap', {clearsInS: 120}))
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-4o', messages: [{role: 'user', content: 'Capped'}]},
    })
    assert.equal(res.status, 429)
    const retryAfter = Number(res.headers.get('retry-after'))
    assert.ok(retryAfter >= 100 && retryAfter <= 121, `Retry-After ${retryAfter}: when the first cap clears`)
    const body = (await res.json()) as {error: {message: string}}
    assert.match(body.error.message, /You have sent too many messages to the model/)
    const states = (await admin()).tokens
    assert.deepEqual(
      states.map((t) => t.state),
      ['ok', 'ok'],
      'the tokens themselves are fine',
    )
    assert.ok(
      states.every((t) => t.modelsCooling['gpt-4o']),
      'gpt-4o rests on both',
    )
    const other = await ask('Another model', 'gpt-4o-mini')
    assert.equal(other.choices[0].message.content, defaultWebAnswer('Another model'))
  })

  it('a message too long for the backend is a 413 with its words, not retried on another token', async () => {
    web.fault('*', webHttpFault('too-long'), 2)
    const before = web.conversations.length
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-4o', messages: [{role: 'user', content: 'Very long'}]},
    })
    assert.equal(res.status, 413)
    assert.match(((await res.json()) as {error: {message: string}}).error.message, /too long/)
    assert.equal(web.conversations.length - before, 1)
  })

  it('a revoked token is disabled for good, and tokens list says why', async () => {
    web.fault(ALICE, webHttpFault('token-invalidated'))
    web.fault(BOB, webHttpFault('token-invalidated'))
    await ask('Who am I').catch(() => undefined)
    const disabled = (await admin()).tokens.filter((t) => t.state === 'disabled')
    assert.ok(disabled.length >= 1)
    assert.match(disabled[0].disabled?.reason ?? '', /invalidated/)
    await gw.daemon.close()
    const listed = listTokens(gw.ctx).filter((t) => t.state === 'disabled')
    assert.ok(listed.length >= 1 && /invalidated/.test(listed[0].reason ?? ''))
  })
})
