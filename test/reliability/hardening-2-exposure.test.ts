import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {type Socket, connect} from 'node:net'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, describe, it} from 'node:test'

import {ROOT, tempHome} from '../helpers/cli.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'

const KEY = 'sk-exposure-key-abcdefghijklmnopqr8888'

/** Open `n` connections that send half a request line and then nothing (slowloris), each once it is connected. */
async function halfOpen(port: number, n: number): Promise<Socket[]> {
  const sockets: Socket[] = []
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from(
        {length: Math.min(50, n - i)},
        () =>
          new Promise<void>((resolve) => {
            const socket = connect(port, '127.0.0.1', () => {
              socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')
              // read what comes back (a 408 in the end), so the socket sees the daemon close it
              socket.resume()
              resolve()
            })
            socket.on('error', () => resolve())
            sockets.push(socket)
          }),
      ),
    )
  }

  return sockets
}

async function answered(url: string): Promise<number | string> {
  try {
    const res = await fetch(url, {signal: AbortSignal.timeout(5000)})
    await res.text()
    return res.status
  } catch (error) {
    return `${(error as Error).message} (${((error as Error).cause as {code?: string} | undefined)?.code ?? ''})`
  }
}

describe('hardening 2: exposure — a bounded /metrics without labels naming people', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon

  before(async () => {
    fake = await FakeOpenAI.start({keys: [KEY]})
    gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: fake.baseUrl}},
      tokens: [{label: 'alice@example.com', secret: KEY, upstream: 'fake'}],
    })
  })
  after(async () => {
    await gw?.stop()
    await fake?.close()
  })

  const metricsText = async () => (await fetch(`${gw.origin}/metrics`)).text()
  /** The daemon's own series: the process and runtime ones (heap, GC) change size on their own. */
  const ownSeries = (text: string) =>
    text
      .split('\n')
      .filter((l) => !/^(# (HELP|TYPE) )?gptconv_(process|nodejs)_/.test(l))
      .join('\n')

  it('3,000 distinct model names do not grow /metrics: unknown models are counted as "other"', async () => {
    const chat = (model: string) =>
      gw
        .api('/v1/chat/completions', {method: 'POST', json: {model, messages: [{role: 'user', content: 'hi'}]}})
        .then(async (r) => (await r.text(), r.status))
    assert.equal(await chat('gpt-4o-mini'), 200)
    assert.equal(await chat('warm-up-model'), 200)
    await metricsText() // its own route's series appear once it has been asked
    const before = ownSeries(await metricsText()).length
    for (let i = 0; i < 3000; i += 50) {
      const statuses = await Promise.all(Array.from({length: 50}, (_, j) => chat(`client-model-${i + j}`)))
      assert.deepEqual(new Set(statuses), new Set([200]))
    }

    const text = await metricsText()
    // the two `other` series, and a few more digits in the counts
    assert.ok(ownSeries(text).length - before < 512, `/metrics grew by ${ownSeries(text).length - before} bytes`)
    assert.equal(text.includes('client-model-'), false)
    const series = text.split('\n').filter((l) => l.startsWith('gptconv_tokens_total{'))
    assert.deepEqual(series.map((l) => l.replace(/ \d+$/, '')).sort(), [
      'gptconv_tokens_total{upstream="fake",model="gpt-4o-mini",type="completion"}',
      'gptconv_tokens_total{upstream="fake",model="gpt-4o-mini",type="prompt"}',
      'gptconv_tokens_total{upstream="fake",model="other",type="completion"}',
      'gptconv_tokens_total{upstream="fake",model="other",type="prompt"}',
    ])
  })

  it('the open /metrics names no token label (they are often e-mail addresses); /admin/pool, behind the key, does', async () => {
    const text = await metricsText()
    assert.equal(text.includes('alice@example.com'), false)
    assert.match(text, /gptconv_tokens\{upstream="fake",state="ok"\} 1/)
    assert.match(text, /gptconv_in_flight\{upstream="fake"\} 0/)
    assert.equal((await fetch(`${gw.origin}/admin/pool`)).status, 401)
    const pool = (await (await gw.api('/admin/pool')).json()) as {tokens: Array<{label: string}>}
    assert.deepEqual(
      pool.tokens.map((t) => t.label),
      ['alice@example.com'],
    )
  })
})

describe('hardening 2: half-open connections and slow clients', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon

  before(async () => {
    fake = await FakeOpenAI.start({keys: [KEY]})
    gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: fake.baseUrl}},
      tokens: [{label: 'k', secret: KEY, upstream: 'fake'}],
      settings: {server: {maxConnections: 32, headersTimeoutMs: 1000, requestTimeoutMs: 1000}},
    })
  })
  after(async () => {
    await gw?.stop()
    await fake?.close()
  })

  it('more half-open connections than server.maxConnections: a new client is still answered at once', async () => {
    const port = Number(new URL(gw.origin).port)
    const sockets = await halfOpen(port, 80)
    try {
      assert.equal(await answered(`${gw.origin}/healthz`), 200)
      const res = await gw.api('/admin/pool')
      const {connections} = (await res.json()) as {
        connections: {clients: number; maxClients: number; closedForRoom: number}
      }
      assert.equal(connections.maxClients, 32)
      assert.ok(connections.clients <= 32, `${connections.clients} connections open`)
      assert.ok(connections.closedForRoom >= 80 - 32, `${connections.closedForRoom} closed to make room`)
    } finally {
      for (const socket of sockets) socket.destroy()
    }
  })

  it('a half-open connection is closed after server.headersTimeoutMs, while a streamed answer longer than server.requestTimeoutMs is not cut', async () => {
    const [socket] = await halfOpen(Number(new URL(gw.origin).port), 1)
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())))
    const opened = Date.now()
    fake.fault('*', {type: 'slow', chunkDelayMs: 400})
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-4o-mini', stream: true, messages: [{role: 'user', content: 'tell me a slow story'}]},
    })
    const started = Date.now()
    const text = await res.text()
    assert.ok(Date.now() - started > 1500, `the stream took ${Date.now() - started} ms`)
    assert.equal(res.status, 200)
    assert.match(text, /data: \[DONE\]\n\n$/)
    const at = await Promise.race([closed, sleep(8000, -1)])
    assert.ok(at !== -1 && at - opened < 4000, 'the half-open connection was not closed in time')
  })
})

describe('hardening 2: open files — a daemon under a low open-file limit survives a flood of half-open connections', () => {
  const home = tempHome('gptconv-fdlimit-')
  let child: ChildProcess | undefined
  after(() => {
    child?.kill('SIGKILL')
    home.cleanup()
  })

  it('with `ulimit -n 256`, 400 half-open connections leave a new client answered', async () => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home.dir,
      GPTCONV_HOME: home.dir,
      GPTCONV_SECRET_STORE: 'file',
      GPTCONV_KEYCHAIN_SERVICE: 'gptconv-test-unused',
      GPTCONV_DAEMON_OPTIONS: JSON.stringify({host: '127.0.0.1', port: 0, demo: true, logLevel: 'warn'}),
    }
    child = spawn(
      '/bin/sh',
      ['-c', 'ulimit -n 256 && exec "$@"', 'sh', process.execPath, join(ROOT, 'dist/daemon/main.js')],
      {env, stdio: ['ignore', 'ignore', 'pipe']},
    )
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    let port: number | undefined
    for (let i = 0; i < 200 && port === undefined; i++) {
      await sleep(50)
      try {
        port = (JSON.parse(readFileSync(join(home.dir, 'daemon.json'), 'utf8')) as {port: number}).port
      } catch {
        // not yet written
      }
    }

    assert.ok(port !== undefined, `the daemon did not start: ${stderr}`)
    const sockets = await halfOpen(port, 400)
    try {
      assert.equal(await answered(`http://127.0.0.1:${port}/healthz`), 200)
    } finally {
      for (const socket of sockets) socket.destroy()
    }
  })
})
