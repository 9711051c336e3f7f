import assert from 'node:assert/strict'
import {after, afterEach, before, describe, it} from 'node:test'
import {pino} from 'pino'

import {SessionStore, capHistory, composeMessages} from '../../src/daemon/sessions.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'
import {parseSseBody} from '../helpers/openapi.js'
import {tempHome} from '../helpers/cli.js'

const KEY = 'sk-session-key-abcdefghijklmnopqr4444'
type Sent = {messages: Array<{role: string; content: string}>}

describe('session memory: X-Session-Id and POST /session', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon
  const start = async (home?: string) => {
    gw = await startTestDaemon({
      home,
      upstreams: {fake: {protocol: 'openai', baseUrl: fake.baseUrl}},
      tokens: home ? [] : [{label: 'k', secret: KEY, upstream: 'fake'}],
    })
  }

  const chat = (session: string | undefined, content: string, extra: Record<string, unknown> = {}) =>
    gw.api('/v1/chat/completions', {
      method: 'POST',
      headers: session ? {'x-session-id': session} : {},
      json: {model: 'gpt-4o-mini', messages: [{role: 'user', content}], ...extra},
    })
  const sent = () => (fake.requests.at(-1)!.body as Sent).messages.map((m) => `${m.role}: ${m.content}`)

  before(async () => {
    fake = await FakeOpenAI.start({keys: [KEY]})
    await start()
  })
  afterEach(() => fake.clearFaults())
  after(async () => {
    await gw?.stop()
    await fake?.close()
  })

  it('sends the stored turn with the next request of the same session, and not of another', async () => {
    const first = await chat('s1', 'My name is Ada')
    assert.equal(first.headers.get('x-session-id'), 's1')
    await first.json()
    await (await chat('s1', 'What is my name?')).json()
    assert.deepEqual(sent(), [
      'user: My name is Ada',
      'assistant: Hello from the fake upstream: My name is Ada',
      'user: What is my name?',
    ])
    await (await chat('s2', 'Who am I?')).json()
    assert.deepEqual(sent(), ['user: Who am I?'])
    await (await chat(undefined, 'No session')).json()
    assert.deepEqual(sent(), ['user: No session'])
  })

  it('remembers streamed turns too', async () => {
    const body = parseSseBody(await (await chat('stream', 'Streamed hello', {stream: true})).text())
    assert.equal(body.done, true)
    await (await chat('stream', 'again')).json()
    assert.deepEqual(sent(), [
      'user: Streamed hello',
      'assistant: Hello from the fake upstream: Streamed hello',
      'user: again',
    ])
  })

  it('adds nothing to history when the upstream fails', async () => {
    await (await chat('err', 'first')).json()
    fake.fault('*', {type: 'status', status: 400})
    assert.equal((await chat('err', 'this one fails')).status, 400)
    fake.fault('*', {type: 'die-mid-stream', afterChunks: 2})
    const broken = parseSseBody(await (await chat('err', 'this one breaks', {stream: true})).text())
    assert.equal(broken.done, false)
    await (await chat('err', 'third')).json()
    assert.deepEqual(sent(), ['user: first', 'assistant: Hello from the fake upstream: first', 'user: third'])
  })

  it('runs the turns of one session one after another, so history never interleaves', async () => {
    fake.resetStats()
    const answers = await Promise.all(
      ['one', 'two', 'three'].map(async (content) => (await chat('serial', content)).json()),
    )
    assert.equal(answers.length, 3)
    const bodies = fake.requests.map((r) => (r.body as Sent).messages.length)
    assert.deepEqual(bodies, [1, 3, 5], 'each turn saw every earlier one')
    assert.equal(fake.maxInFlight(KEY), 1)
  })

  it('keeps the system message of the session unless the request brings its own', async () => {
    await (
      await gw.api('/v1/chat/completions', {
        method: 'POST',
        headers: {'x-session-id': 'sys'},
        json: {
          model: 'gpt-4o-mini',
          messages: [
            {role: 'system', content: 'Be terse'},
            {role: 'user', content: 'a'},
          ],
        },
      })
    ).json()
    await (await chat('sys', 'b')).json()
    assert.deepEqual(sent()[0], 'system: Be terse')
    assert.equal(sent().filter((m) => m.startsWith('system')).length, 1)
  })

  it('POST /session answers in its envelope, with memory', async () => {
    const post = async (body: unknown) => {
      const res = await gw.api('/session', {method: 'POST', json: body})
      return {status: res.status, body: (await res.json()) as {code: number; message: string; data: string | null}}
    }

    assert.deepEqual(await post({sessionId: 'script', content: 'Remember 42', system: 'You are a calculator'}), {
      status: 200,
      body: {code: 200, message: 'ok', data: 'Hello from the fake upstream: Remember 42'},
    })
    await post({sessionId: 'script', content: 'What number?'})
    assert.deepEqual(sent(), [
      'system: You are a calculator',
      'user: Remember 42',
      'assistant: Hello from the fake upstream: Remember 42',
      'user: What number?',
    ])
    assert.equal((fake.requests.at(-1)!.body as {model: string}).model, 'gpt-4o-mini', 'the default model')
    const missing = await post({sessionId: 'script'})
    assert.equal(missing.status, 400)
    assert.deepEqual([missing.body.code, missing.body.data], [400, null])
    assert.match(missing.body.message, /content/)
    fake.fault('*', {
      type: 'status',
      status: 400,
      body: {error: {message: 'bad things', type: 'invalid_request_error', param: null, code: null}},
    })
    assert.deepEqual(await post({sessionId: 'script', content: 'x'}), {
      status: 400,
      body: {code: 400, message: 'bad things', data: null},
    })
    const unauthorized = await fetch(`${gw.origin}/session`, {method: 'POST', body: '{}'})
    assert.equal(unauthorized.status, 401)
  })

  it('forgets a session on DELETE /session/{id}', async () => {
    await (await chat('gone', 'remember me')).json()
    assert.equal(
      ((await (await gw.api('/session/gone', {method: 'DELETE'})).json()) as {message: string}).message,
      'deleted',
    )
    await (await chat('gone', 'who?')).json()
    assert.deepEqual(sent(), ['user: who?'])
  })

  it('survives a daemon restart', async () => {
    await (await chat('durable', 'before the restart')).json()
    const home = gw.home
    await gw.stop({keepHome: true})
    await start(home)
    await (await chat('durable', 'after the restart')).json()
    assert.deepEqual(sent().slice(0, 2), [
      'user: before the restart',
      'assistant: Hello from the fake upstream: before the restart',
    ])
  })
})

describe('SessionStore', () => {
  const log = pino({level: 'silent'})

  it('namespaces sessions by client key', () => {
    assert.notEqual(SessionStore.key('sk-one', 's1'), SessionStore.key('sk-two', 's1'))
    assert.equal(SessionStore.key('sk-one', 's1'), SessionStore.key('sk-one', 's1'))
  })

  it('expires a session after its TTL since last use', async () => {
    const home = tempHome()
    const store = new SessionStore(`${home.dir}/sessions.json`, 80, log)
    const key = SessionStore.key('k', 'ttl')
    await store.turn(key, [{role: 'user', content: 'hi'}], {defaultModel: 'gpt-4o-mini'}, async (turn) =>
      turn.commit('hello'),
    )
    const seen = async () =>
      store.turn(
        key,
        [{role: 'user', content: 'again'}],
        {defaultModel: 'gpt-4o-mini'},
        async (turn) => turn.messages.length,
      )
    assert.equal(await seen(), 3)
    await new Promise((resolve) => setTimeout(resolve, 120))
    assert.equal(await seen(), 1, 'expired')
    await store.close()
    home.cleanup()
  })

  it('trims the oldest turns to fit the model context, keeping system messages', async () => {
    const long = 'word '.repeat(3000)
    const history = [
      {role: 'user', content: `old question ${long}`},
      {role: 'assistant', content: `old answer ${long}`},
      {role: 'user', content: 'recent question'},
      {role: 'assistant', content: 'recent answer'},
    ]
    // gpt-3.5-turbo-instruct has a 4k context
    const {messages} = await composeMessages(
      {system: [{role: 'system', content: 'sys'}], history},
      [{role: 'user', content: 'new'}],
      'gpt-3.5-turbo-instruct',
      500,
    )
    assert.deepEqual(
      messages.map((m) => m.content),
      ['sys', 'recent question', 'recent answer', 'new'],
    )
    const roomy = await composeMessages({system: [], history}, [{role: 'user', content: 'new'}], 'gpt-4o', 500)
    assert.equal(roomy.messages.length, 5)
  })
})

describe('session memory under a long history', () => {
  it('trims a 1,300-turn history without stalling the daemon: /healthz keeps answering', async () => {
    const fake = await FakeOpenAI.start({keys: [KEY]})
    // no cap, so that the second turn must trim a long stored history (the quadratic recount froze the daemon for 47 s)
    const gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: fake.baseUrl}},
      tokens: [{label: 'k', secret: KEY, upstream: 'fake'}],
      settings: {sessions: {maxMessages: 100_000}},
    })
    try {
      const words = Array.from({length: 100}, (_, i) => `word${i}`).join(' ')
      const messages = Array.from({length: 1300}, (_, i) => ({role: 'user', content: `${i}: ${words}`}))
      const turn = (content: typeof messages) =>
        gw.api('/v1/chat/completions', {
          method: 'POST',
          headers: {'x-session-id': 'long'},
          json: {model: 'gpt-4o-mini', messages: content},
        })
      assert.equal((await turn(messages)).status, 200)

      let slowest = 0
      let done = false
      const poll = (async () => {
        while (!done) {
          const started = performance.now()
          assert.equal((await fetch(`${gw.origin}/healthz`)).status, 200)
          slowest = Math.max(slowest, performance.now() - started)
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
      })()
      const second = await turn([{role: 'user', content: 'and now?'}])
      done = true
      await poll
      assert.equal(second.status, 200)
      const sent = (fake.requests.at(-1)!.body as Sent).messages
      assert.ok(
        sent.length < 1302 && sent.length > 100,
        `the history was trimmed to fit the context (${sent.length} messages sent)`,
      )
      assert.equal(sent[0].role, 'user')
      assert.equal(sent.at(-1)!.content, 'and now?')
      assert.ok(slowest < 1000, `/healthz waited ${Math.round(slowest)} ms while the turn was composed`)
    } finally {
      await gw.stop()
      await fake.close()
    }
  })

  it('keeps at most sessions.maxMessages stored messages, starting with a user turn', () => {
    const history = Array.from({length: 9}, (_, i) => ({role: i % 2 === 0 ? 'user' : 'assistant', content: String(i)}))
    assert.deepEqual(
      capHistory(history, 4).map((m) => m.content),
      ['6', '7', '8'],
    )
    assert.deepEqual(
      capHistory(history, 5).map((m) => m.content),
      ['4', '5', '6', '7', '8'],
    )
    assert.equal(capHistory(history, 20), history)
  })
})
