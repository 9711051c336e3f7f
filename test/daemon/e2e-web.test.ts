import assert from 'node:assert/strict'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, afterEach, before, describe, it} from 'node:test'
import OpenAI from 'openai'

import {readLedger} from '../../src/core/ledger.js'
import {storeOfKind} from '../../src/core/secrets/index.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeChatGPTWeb} from '../helpers/fake-chatgpt-web.js'
import {assertSchema, parseSseBody} from '../helpers/openapi.js'

const ALICE = 'alice@example.com'
const BOB = 'bob@example.com'
const CAROL = 'carol@example.com'

/**
 * The official SDK against gptconv in front of a fake ChatGPT web backend and auth server:
 * access tokens, refresh tokens with rotation (both auth styles), the conversation protocol
 * converted to chat completions.
 */
describe('chatgpt-web upstream', () => {
  let web: FakeChatGPTWeb
  let gw: TestDaemon
  let sdk: OpenAI
  let bobRefresh = ''
  let startupExchanges: FakeChatGPTWeb['exchanges'] = []

  const start = async (home?: string) => {
    gw = await startTestDaemon({
      home,
      upstreams: {
        web: {protocol: 'chatgpt-web', baseUrl: web.origin, authUrl: `${web.origin}/oauth/token`},
        proxy: {protocol: 'chatgpt-web', baseUrl: web.origin, authUrl: `${web.origin}/auth/refresh_token`},
      },
      tokens: home
        ? []
        : [
            {
              label: 'alice',
              kind: 'access-token',
              secret: web.issueAccessToken(ALICE),
              upstream: 'web',
              models: ['gpt-4o'],
            },
            {label: 'bob', kind: 'refresh-token', secret: bobRefresh, upstream: 'web', models: ['gpt-4o-mini']},
            {
              label: 'carol',
              kind: 'refresh-token',
              secret: web.issueRefreshToken(CAROL),
              upstream: 'proxy',
              models: ['gpt-4'],
            },
          ],
      settings: {pool: {cooldownMs: 300}},
    })
    sdk = new OpenAI({baseURL: gw.url, apiKey: gw.clientKey, maxRetries: 0})
  }

  before(async () => {
    web = await FakeChatGPTWeb.start()
    bobRefresh = web.issueRefreshToken(BOB)
    await start()
    startupExchanges = [...web.exchanges]
  })
  afterEach(() => {
    web.set({format: 'cumulative', chunkDelayMs: 0, answer: undefined, split: undefined})
    web.clearFaults()
  })
  after(async () => {
    await gw?.stop()
    await web?.close()
  })

  it('chats through an access token, stream and non-stream, deltas equal to the whole answer', async () => {
    const whole = await sdk.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        {role: 'system', content: 'Be brief'},
        {role: 'user', content: 'Hi there'},
      ],
    })
    assertSchema('CreateChatCompletionResponse', whole)
    assert.equal(whole.choices[0].message.content, 'Web answer to: Hi there')
    assert.equal(whole.choices[0].finish_reason, 'stop')
    assert.match(whole.id, /^chatcmpl-/)
    assert.equal(Number.isInteger(whole.created), true)
    assert.ok(whole.usage && whole.usage.prompt_tokens > 0 && whole.usage.completion_tokens > 0)
    const sent = web.conversations.at(-1)!
    assert.equal(sent.account, ALICE)
    assert.equal(sent.body.history_and_training_disabled, true)
    assert.equal(sent.body.model, 'gpt-4o')
    assert.deepEqual(
      (sent.body.messages as Array<{author: {role: string}}>).map((m) => m.author.role),
      ['system', 'user'],
    )

    for (const format of ['cumulative', 'patch'] as const) {
      web.set({format})
      let text = ''
      for await (const chunk of await sdk.chat.completions.create({
        model: 'gpt-4o',
        messages: [{role: 'user', content: 'Hi there'}],
        stream: true,
      })) {
        assertSchema('CreateChatCompletionStreamResponse', chunk)
        text += chunk.choices[0]?.delta.content ?? ''
      }

      assert.equal(text, whole.choices[0].message.content, format)
    }
  })

  it('removes citation marks, also when one is split across events', async () => {
    web.set({
      answer: () => 'Paris 【0†source】is the capital【1†来源】.',
      split: () => ['Paris 【', '0†so', 'urce】is the', ' capital【1', '†来源】.'],
    })
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-4o', stream: true, messages: [{role: 'user', content: 'Capital?'}]},
    })
    const body = parseSseBody(await res.text())
    assert.equal(body.done, true)
    const text = body.events
      .map((e) => (e as {choices: Array<{delta: {content?: string}}>}).choices[0]?.delta.content ?? '')
      .join('')
    assert.equal(text, 'Paris is the capital.')
    const whole = await sdk.chat.completions.create({model: 'gpt-4o', messages: [{role: 'user', content: 'Capital?'}]})
    assert.equal(whole.choices[0].message.content, text)
  })

  it('emulates stop and max_tokens on our side', async () => {
    web.set({answer: () => 'one two three four five six seven'})
    const stopped = await sdk.chat.completions.create({
      model: 'gpt-4o',
      messages: [{role: 'user', content: 'count'}],
      stop: [' four'],
    })
    assert.deepEqual([stopped.choices[0].message.content, stopped.choices[0].finish_reason], ['one two three', 'stop'])
    const cut = await sdk.chat.completions.create({
      model: 'gpt-4o',
      messages: [{role: 'user', content: 'count'}],
      max_tokens: 2,
    })
    assert.deepEqual([cut.choices[0].message.content, cut.choices[0].finish_reason], ['one two', 'length'])
    web.set({chunkDelayMs: 30})
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-4o', stream: true, max_tokens: 3, messages: [{role: 'user', content: 'count'}]},
    })
    const body = parseSseBody(await res.text())
    const text = body.events
      .map((e) => (e as {choices: Array<{delta: {content?: string}}>}).choices[0]?.delta.content ?? '')
      .join('')
    assert.equal(text, 'one two three')
    assert.equal((body.events.at(-1) as {choices: Array<{finish_reason: string}>}).choices[0].finish_reason, 'length')
    await sleep(50)
    assert.equal(web.inFlight(ALICE), 0, 'the upstream conversation was cut off, not left running')
  })

  it('never has two answers of one account in flight at once', async () => {
    web.set({chunkDelayMs: 20})
    web.resetStats()
    const answers = await Promise.all(
      [1, 2, 3].map((i) =>
        sdk.chat.completions.create({model: 'gpt-4o', messages: [{role: 'user', content: `q${i}`}]}),
      ),
    )
    assert.deepEqual(
      answers.map((a) => a.choices[0].message.content),
      ['Web answer to: q1', 'Web answer to: q2', 'Web answer to: q3'],
    )
    assert.equal(web.maxInFlight(ALICE), 1)
  })

  it('chats through refresh tokens of both auth styles, with rotated tokens stored', async () => {
    const viaOauth = await sdk.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{role: 'user', content: 'via oauth'}],
    })
    assert.equal(viaOauth.choices[0].message.content, 'Web answer to: via oauth')
    assert.equal(web.conversations.at(-1)!.account, BOB)
    const viaProxy = await sdk.chat.completions.create({
      model: 'gpt-4',
      messages: [{role: 'user', content: 'via proxy'}],
    })
    assert.equal(viaProxy.choices[0].message.content, 'Web answer to: via proxy')
    assert.equal(web.conversations.at(-1)!.account, CAROL)
    assert.deepEqual(
      new Set(startupExchanges.filter((e) => e.ok).map((e) => e.style)),
      new Set(['oauth', 'refresh-endpoint']),
      'both refresh tokens were exchanged at start',
    )
    const stored = await storeOfKind('file', {env: gw.ctx.env}).get('bob')
    assert.notEqual(stored, bobRefresh, 'the rotated refresh token replaced the old one')
    assert.equal(web.exchanges.filter((e) => e.refreshToken === stored).length, 0, 'and it has not been used yet')
  })

  it('keeps working across two renewals and a daemon restart; concurrent renewals are one exchange', async () => {
    const before = web.exchanges.length
    const results = await Promise.all(
      [1, 2, 3].map(async () => (await gw.api('/admin/tokens/bob/refresh', {method: 'POST'})).json()),
    )
    assert.ok(results.every((r) => (r as {ok: boolean}).ok))
    assert.equal(web.exchanges.length, before + 1, 'merged into one exchange')
    assert.ok(((await (await gw.api('/admin/tokens/bob/refresh', {method: 'POST'})).json()) as {ok: boolean}).ok)
    assert.equal(web.exchanges.slice(before).filter((e) => e.ok).length, 2)
    const home = gw.home
    await gw.stop({keepHome: true})
    await start(home)
    const after = await sdk.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{role: 'user', content: 'after restart'}],
    })
    assert.equal(after.choices[0].message.content, 'Web answer to: after restart')
  })

  it('renews on a 401 and retries once', async () => {
    const stored = await storeOfKind('file', {env: gw.ctx.env}).get('bob#access')
    web.revoke(stored!)
    const before = web.exchanges.length
    const answer = await sdk.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{role: 'user', content: 'after revoke'}],
    })
    assert.equal(answer.choices[0].message.content, 'Web answer to: after revoke')
    assert.equal(web.exchanges.length, before + 1)
  })

  it('records estimated, non-zero usage in the ledger', async () => {
    await sleep(50)
    const records = (await readLedger(gw.ctx.paths.ledger)).filter((r) => r.upstream === 'web')
    assert.ok(records.length > 0)
    for (const r of records.filter((x) => x.status === 200)) {
      assert.equal(r.estimated, true)
      assert.ok(r.prompt_tokens > 0 && r.completion_tokens > 0, JSON.stringify(r))
    }
  })

  it('serves legacy completions through the converter', async () => {
    const data = await sdk.completions.create({model: 'gpt-4o-mini', prompt: 'Old school', max_tokens: 3})
    assertSchema('CreateCompletionResponse', data)
    assert.deepEqual(
      [data.choices[0].text, data.choices[0].finish_reason],
      ['Web answer to', 'length'],
      'max_tokens counted in tokens of the model encoding',
    )
  })

  it('refuses what the web cannot do with a 400 naming the parameter', async () => {
    await assert.rejects(
      sdk.chat.completions.create({model: 'gpt-4o', n: 2, messages: [{role: 'user', content: 'x'}]}),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'n',
    )
    await assert.rejects(
      sdk.completions.create({model: 'gpt-4o', prompt: 'x', logprobs: 1}),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'logprobs',
    )
  })

  it('an error event before any text moves on; after text it ends the stream with one error event', async () => {
    web.fault(ALICE, {type: 'error-event', message: 'Something went wrong'}, 3)
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-4o', messages: [{role: 'user', content: 'x'}]},
    })
    assert.equal(res.status, 502)
    assert.match(((await res.json()) as {error: {message: string}}).error.message, /Something went wrong/)
    web.clearFaults()
    web.fault(ALICE, {type: 'die-mid-stream', afterEvents: 3})
    const broken = parseSseBody(
      await (
        await gw.api('/v1/chat/completions', {
          method: 'POST',
          json: {model: 'gpt-4o', stream: true, messages: [{role: 'user', content: 'a longer question here'}]},
        })
      ).text(),
    )
    assert.equal(broken.done, false)
    assert.ok((broken.events.at(-1) as {error?: unknown}).error)
  })

  it('does not use an expired access token', async () => {
    await gw.stop()
    gw = await startTestDaemon({
      upstreams: {web: {protocol: 'chatgpt-web', baseUrl: web.origin}},
      tokens: [
        {label: 'old', kind: 'access-token', secret: web.issueAccessToken('old@example.com', 2), upstream: 'web'},
      ],
    })
    await sleep(2100)
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-4o', messages: [{role: 'user', content: 'x'}]},
    })
    assert.equal(res.status, 503)
    assert.match(((await res.json()) as {error: {message: string}}).error.message, /old: expired at/)
  })
})
