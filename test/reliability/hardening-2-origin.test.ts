import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, afterEach, before, describe, it} from 'node:test'

import {addToken, listTokens} from '../../src/core/tokens.js'
import {setUpstreamUrl} from '../../src/core/upstreams.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'
import {assertSchema} from '../helpers/openapi.js'

const KEY = 'sk-origin-key-abcdefghijklmnopqrst2222'

async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = probe()
    if (value !== undefined) return value
    await sleep(25)
  }

  throw new Error(`${what}: not within ${timeoutMs} ms`)
}

/** Did any request to `fake` carry the key, anywhere in its headers or body? */
const carriedKey = (fake: FakeOpenAI) =>
  fake.requests.filter(
    (r) => r.key === KEY || JSON.stringify(r.headers).includes(KEY) || JSON.stringify(r.body ?? '').includes(KEY),
  )

describe('hardening 2: a stored key never follows a changed base URL', () => {
  let first: FakeOpenAI
  let second: FakeOpenAI
  let gw: TestDaemon | undefined

  before(async () => {
    first = await FakeOpenAI.start({keys: [KEY]})
    second = await FakeOpenAI.start()
  })
  afterEach(async () => {
    await gw?.stop()
    gw = undefined
    second.resetStats()
    first.resetStats()
  })
  after(async () => {
    await first?.close()
    await second?.close()
  })

  const chat = {model: 'gpt-4o-mini', messages: [{role: 'user', content: 'hi'}]}
  /** Change the config as a hand edit would, and wait until the daemon has reloaded it. */
  const moveUpstream = async (daemon: TestDaemon, baseUrl: string) => {
    const reloads = daemon.logs.filter((l) => l.includes('config reloaded')).length
    await daemon.ctx.config.update((s) => void (s.upstreams.fake.baseUrl = baseUrl))
    await until(
      () => (daemon.logs.filter((l) => l.includes('config reloaded')).length > reloads ? true : undefined),
      'config reloaded',
    )
  }

  it('config.json edited under a running daemon to point at a second upstream: the second never receives the key, and everyone is told', async () => {
    gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: first.baseUrl}},
      tokens: [{label: 'k', secret: KEY, upstream: 'fake'}],
    })
    assert.equal((await gw.api('/v1/chat/completions', {method: 'POST', json: chat})).status, 200)
    await moveUpstream(gw, second.baseUrl)

    const res = await gw.api('/v1/chat/completions', {method: 'POST', json: chat})
    const models = await gw.api('/v1/models')
    await models.text()
    const stream = await gw.api('/v1/chat/completions', {method: 'POST', json: {...chat, stream: true}})
    await stream.text()
    assert.deepEqual(carriedKey(second), [])

    const body = (await res.json()) as {error: {code: string; message: string}}
    assertSchema('ErrorResponse', body)
    assert.equal(res.status, 503)
    assert.equal(body.error.code, 'no_available_tokens')
    const from = first.origin
    const to = second.origin
    const reason = `blocked: its upstream "fake" now points to ${to}, but the secret was stored for ${from} and is not sent anywhere else. Confirm with \`gptconv tokens add k --kind api-key --force\` (re-add it) or \`gptconv upstreams set-url fake URL --move-tokens\``
    assert.equal(
      body.error.message,
      `Every token that could serve this request is unusable — k: ${reason}. Add or renew a token with \`gptconv tokens add\`.`,
    )

    const error = gw.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.level === 50 && l.token === 'k')
    assert.deepEqual(
      error && {token: error.token, upstream: error.upstream, from: error.from, to: error.to, msg: error.msg},
      {token: 'k', upstream: 'fake', from, to, msg: `token "k" is ${reason}`},
    )
    assert.ok(!gw.logs.join('\n').includes(KEY))

    const pool = (await (await gw.api('/admin/pool')).json()) as {
      tokens: Array<{label: string; state: string; blocked: string | null}>
    }
    assert.deepEqual(
      pool.tokens.map((t) => [t.label, t.state, t.blocked]),
      [['k', 'blocked', reason]],
    )
    const listed = listTokens(gw.ctx)
    assert.deepEqual(
      listed.map((t) => [t.label, t.state, t.reason]),
      [['k', 'blocked', reason]],
    )
  })

  it('re-adding the token (`tokens add --force`) or `upstreams set-url --move-tokens` confirms the new origin', async () => {
    gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: first.baseUrl}},
      tokens: [{label: 'k', secret: KEY, upstream: 'fake'}],
    })
    await moveUpstream(gw, second.baseUrl)
    assert.equal((await gw.api('/v1/chat/completions', {method: 'POST', json: chat})).status, 503)
    const reloads = gw.logs.filter((l) => l.includes('config reloaded')).length
    await addToken(gw.ctx, {label: 'k', kind: 'api-key', secret: KEY, upstream: 'fake', force: true})
    await until(
      () => (gw!.logs.filter((l) => l.includes('config reloaded')).length > reloads ? true : undefined),
      'config reloaded',
    )
    assert.equal((await gw.api('/v1/chat/completions', {method: 'POST', json: chat})).status, 200)
    assert.equal(carriedKey(second).length, 1)

    await setUpstreamUrl(gw.ctx, {name: 'fake', baseUrl: first.baseUrl, moveTokens: true})
    await until(
      () =>
        listTokens(gw!.ctx)[0].state === 'ok' && gw!.daemon.state.registry.upstream('fake')?.baseUrl === first.baseUrl
          ? true
          : undefined,
      'moved back',
    )
    assert.equal((await gw.api('/v1/chat/completions', {method: 'POST', json: chat})).status, 200)
    assert.equal(carriedKey(first).length, 1)
  })

  it('an entry stored before bindings existed is bound on its first use, and stays bound across a restart', async () => {
    gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: first.baseUrl}},
      tokens: [{label: 'k', secret: KEY, upstream: 'fake'}],
    })
    const {home} = gw
    await gw.stop({keepHome: true})
    // as written by an older gptconv: no origin in the entry, none recorded in state.json
    await gw.ctx.config.update((s) => {
      delete s.tokens.k.origin
      delete s.tokens.k.authOrigin
    })
    gw = await startTestDaemon({home})
    const runtime = join(home, 'state.json')
    const recorded = await until(() => {
      try {
        return (JSON.parse(readFileSync(runtime, 'utf8')) as {tokens: Record<string, {origin?: string}>}).tokens.k
          ?.origin
      } catch {
        return undefined
      }
    }, 'origin recorded in state.json')
    assert.equal(recorded, first.origin)
    assert.equal((await gw.api('/v1/chat/completions', {method: 'POST', json: chat})).status, 200)

    await moveUpstream(gw, second.baseUrl)
    assert.equal((await gw.api('/v1/chat/completions', {method: 'POST', json: chat})).status, 503)
    await gw.stop({keepHome: true})
    gw = await startTestDaemon({home})
    assert.equal((await gw.api('/v1/chat/completions', {method: 'POST', json: chat})).status, 503)
    assert.deepEqual(carriedKey(second), [])
    assert.equal(listTokens(gw.ctx)[0].state, 'blocked')
  })
})
