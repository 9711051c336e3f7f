import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, afterEach, before, describe, it} from 'node:test'

import {ROOT, runCli, tempHome} from '../helpers/cli.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'
import {parseSseBody} from '../helpers/openapi.js'

const KEYS = [
  'sk-fault-key-1-abcdefghijklmnopqrstu',
  'sk-fault-key-2-abcdefghijklmnopqrstu',
  'sk-fault-key-3-abcdefghijklmnopqrstu',
]
const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  messages: [{role: 'user', content}],
  ...extra,
})
type Admin = {
  queue: number
  tokens: Array<{label: string; inFlight: number; state: string}>
  connections: {requests: number; clients: number; upstream: Record<string, {running: number; pending: number}>}
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await sleep(20)
  }

  throw new Error(`condition not met within ${timeoutMs} ms`)
}

describe('faults: rate-limit storms and clients that vanish', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon
  const admin = async () => (await (await gw.api('/admin/pool')).json()) as Admin

  before(async () => {
    fake = await FakeOpenAI.start({keys: KEYS, chunkDelayMs: 30})
    gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: fake.baseUrl}},
      tokens: KEYS.map((secret, i) => ({label: `k${i + 1}`, secret, upstream: 'fake', concurrency: 4})),
      settings: {pool: {queueTimeoutMs: 800, maxAttempts: 3}},
    })
  })
  afterEach(() => fake.clearFaults())
  after(async () => {
    await gw?.stop()
    await fake?.close()
  })

  it("a 429 storm on every key: when no key can be free before the queue deadline, a 429 at once with Retry-After and the upstream's words", async () => {
    fake.fault('*', {type: 'status', status: 429, headers: {'retry-after': '30'}}, 3)
    const started = Date.now()
    const res = await gw.api('/v1/chat/completions', {method: 'POST', json: chat('storm')})
    const waited = Date.now() - started
    assert.equal(res.status, 429)
    const body = (await res.json()) as {error: {code: string; type: string; message: string}}
    assert.equal(body.error.type, 'rate_limit_error')
    assert.match(body.error.message, /Upstream fake is rate limiting/)
    assert.ok(Number(res.headers.get('retry-after')) >= 28, `Retry-After ${res.headers.get('retry-after')}`)
    assert.ok(waited < 700, `no wait in the queue for keys that rest for 30 s (${waited} ms)`)
    assert.deepEqual(
      (await admin()).tokens.map((t) => t.state),
      ['cooling-down', 'cooling-down', 'cooling-down'],
    )
    // the cooldowns are the upstream's business: forget them for the next tests
    gw.daemon.state.pool.update([])
    gw.daemon.state.pool.update(gw.daemon.state.registry.tokens)
  })

  it('clients that disconnect mid-stream under load leak no slot, no queue entry and no socket', async () => {
    const controllers = Array.from({length: 60}, () => new AbortController())
    const streams = controllers.map(async (controller, i) => {
      try {
        const res = await gw.api('/v1/chat/completions', {
          method: 'POST',
          json: chat(`a fairly long answer please number ${i}`, {stream: true}),
          signal: controller.signal,
        })
        const reader = res.body!.getReader()
        await reader.read()
        controller.abort()
        await reader.read().catch(() => undefined)
      } catch {
        // aborted while queued or connecting: fine
      }
    })
    // 12 slots (3 keys × 4): most requests queue; abort the queued ones too
    await sleep(100)
    for (const controller of controllers.slice(40)) controller.abort()
    await Promise.all(streams)
    await waitFor(async () => {
      const a = await admin()
      return a.queue === 0 && a.tokens.every((t) => t.inFlight === 0) && a.connections.requests === 1
    }, 5000)
    await waitFor(() => KEYS.every((k) => fake.inFlight(k) === 0), 5000)
    const upstream = Object.values((await admin()).connections.upstream)
    assert.ok(
      upstream.every((u) => u.running === 0 && u.pending === 0),
      JSON.stringify(upstream),
    )
    const answer = await gw.api('/v1/chat/completions', {method: 'POST', json: chat('still fine?')})
    assert.equal(answer.status, 200)
  })
})

describe('SIGTERM with open streams', () => {
  const home = tempHome()
  let fake: FakeOpenAI
  after(async () => {
    await fake?.close()
    home.cleanup()
  })

  it('lets streams finish within pool.drainTimeoutMs, ends the rest with an in-band error at the bound, then exits 0', async () => {
    fake = await FakeOpenAI.start({keys: [KEYS[0]]})
    const cli = (args: string[], input?: string) => runCli(args, {home: home.dir, input})
    await cli(['upstreams', 'add', 'fake', '--protocol', 'openai', '--base-url', fake.baseUrl])
    await cli(['tokens', 'add', 'k', '--kind', 'api-key', '--upstream', 'fake'], KEYS[0])
    await cli(['config', 'set', 'pool.drainTimeoutMs', '1500'])
    const daemon = spawn(process.execPath, [join(ROOT, 'bin/run.js'), 'serve', '--port', '0'], {
      env: {PATH: process.env.PATH, HOME: home.dir, GPTCONV_HOME: home.dir, GPTCONV_SECRET_STORE: 'file'},
      stdio: 'ignore',
    })
    let status: {url: string} | undefined
    for (let i = 0; i < 100 && !status; i++) {
      await sleep(100)
      const r = await cli(['status', '--json'])
      if (r.code === 0) status = JSON.parse(r.stdout) as {url: string}
    }

    const {OPENAI_API_KEY: key} = JSON.parse((await cli(['env', '--json'])).stdout) as {OPENAI_API_KEY: string}
    const ask = (chunkDelayMs: number) => {
      fake.fault(KEYS[0], {type: 'slow', chunkDelayMs})
      return fetch(`${status!.url}/chat/completions`, {
        method: 'POST',
        headers: {authorization: `Bearer ${key}`, 'content-type': 'application/json'},
        body: JSON.stringify(chat('seven words of answer for you', {stream: true})),
      })
    }

    const quick = await ask(60) // ~0.5 s: finishes inside the drain window
    const slow = await ask(1000) // ~8 s: outlives it
    const quickText = quick.text()
    // read chunk by chunk: what arrived is kept even if the connection is then cut
    const slowText = (async () => {
      let text = ''
      const decoder = new TextDecoder()
      try {
        for await (const chunk of slow.body!) text += decoder.decode(chunk as Uint8Array, {stream: true})
      } catch {
        text += '<connection cut>'
      }

      return text
    })()
    const exited = new Promise<number | null>((resolve) => daemon.once('exit', resolve))
    const signalled = Date.now()
    daemon.kill('SIGTERM')
    assert.equal(await exited, 0)
    const took = Date.now() - signalled
    assert.ok(took < 1500 + 1000 + 2000, `exited ${took} ms after SIGTERM`)
    assert.equal(parseSseBody(await quickText).done, true, 'the short stream was completed')
    const cut = await slowText
    assert.ok(!cut.includes('[DONE]'), 'the long one was cut at the bound')
    assert.match(
      cut,
      /data: \{"error":\{"message":"gptconv is shutting down\.","type":"[a-z_]+","param":null,"code":"shutting_down"\}\}\n\n$/,
      'and says so in band, not by a silent truncation',
    )
    assert.equal(existsSync(join(home.dir, 'daemon.json')), false)
  })
})
