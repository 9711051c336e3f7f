import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, describe, it} from 'node:test'

import {ROOT, runCli, tempHome} from '../helpers/cli.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'
import {parseSseBody} from '../helpers/openapi.js'

const KEY = 'sk-serve-test-abcdefghijklmnopqrs5555'

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = await probe()
    if (value !== undefined) return value
    await sleep(50)
  }

  throw new Error(`not ready within ${timeoutMs} ms`)
}

describe('gptconv serve --demo --detach, status, env, logs, stop', () => {
  const home = tempHome()
  const cli = (...args: string[]) => runCli(args, {home: home.dir})
  after(async () => {
    await cli('stop')
    home.cleanup()
  })

  it('starts in the background and answers the README curl with the client key from `env`', async () => {
    const start = await cli('serve', '--demo', '--port', '0', '--detach')
    assert.equal(start.code, 0, start.stderr)
    assert.match(start.stdout, /running in the background at http:\/\/127\.0\.0\.1:\d+\/v1 \(pid \d+\)/)
    const status = JSON.parse((await cli('status', '--json')).stdout) as {
      running: boolean
      url: string
      tokens: number
      demo: boolean
    }
    assert.deepEqual([status.running, status.tokens, status.demo], [true, 1, true])
    const env = JSON.parse((await cli('env', '--json')).stdout) as {OPENAI_BASE_URL: string; OPENAI_API_KEY: string}
    assert.equal(env.OPENAI_BASE_URL, status.url)
    assert.match(env.OPENAI_API_KEY, /^sk-gptconv-/)
    const exports = (await cli('env')).stdout
    assert.equal(
      exports.trim(),
      `export OPENAI_BASE_URL='${status.url}' OPENAI_API_BASE='${status.url}' OPENAI_API_KEY='${env.OPENAI_API_KEY}'`,
    )
    const res = await fetch(`${env.OPENAI_BASE_URL}/chat/completions`, {
      method: 'POST',
      headers: {authorization: `Bearer ${env.OPENAI_API_KEY}`, 'content-type': 'application/json'},
      body: JSON.stringify({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'Hello'}]}),
    })
    assert.equal(res.status, 200)
    const body = (await res.json()) as {choices: Array<{message: {content: string}}>}
    assert.match(body.choices[0].message.content, /gptconv demo upstream.*You said: "Hello"/)
  })

  it('refuses to start a second daemon', async () => {
    const again = await cli('serve', '--demo', '--port', '0', '--detach')
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already running at http/)
  })

  it('shows its log, one line per request, without secrets', async () => {
    const logs = await cli('logs', '-n', '20')
    assert.equal(logs.code, 0)
    assert.match(logs.stdout, /INFO\s+gptconv listening/)
    assert.match(logs.stdout, /INFO\s+request .*path=\/v1\/chat\/completions status=200/)
    const env = JSON.parse((await cli('env', '--json')).stdout) as {OPENAI_API_KEY: string}
    assert.ok(!logs.stdout.includes(env.OPENAI_API_KEY))
  })

  it('stops, and status then says so with exit 1', async () => {
    const stop = await cli('stop')
    assert.equal(stop.code, 0, stop.stderr)
    assert.match(stop.stdout, /Stopped gptconv \(pid \d+\)/)
    const status = await cli('status')
    assert.equal(status.code, 1)
    assert.match(status.stderr, /not running/)
    assert.equal(existsSync(join(home.dir, 'daemon.json')), false)
    assert.equal((await cli('stop')).stdout.trim(), 'gptconv is not running.')
  })

  it('refuses --json in the foreground', async () => {
    assert.equal((await cli('serve', '--json')).code, 2)
  })
})

describe('a running daemon follows the CLI and drains on SIGTERM', () => {
  const home = tempHome()
  let fake: FakeOpenAI
  const cli = (args: string[], input?: string) => runCli(args, {home: home.dir, input})
  let daemon: ReturnType<typeof spawn>
  let url = ''
  let key = ''
  const ask = (content: string, stream = false) =>
    fetch(`${url}/chat/completions`, {
      method: 'POST',
      headers: {authorization: `Bearer ${key}`, 'content-type': 'application/json'},
      body: JSON.stringify({model: 'gpt-4o-mini', stream, messages: [{role: 'user', content}]}),
    })

  before(async () => {
    fake = await FakeOpenAI.start({keys: [KEY]})
    await cli(['upstreams', 'add', 'fake', '--protocol', 'openai', '--base-url', fake.baseUrl])
    daemon = spawn(process.execPath, [join(ROOT, 'bin/run.js'), 'serve', '--port', '0'], {
      env: {
        PATH: process.env.PATH,
        HOME: home.dir,
        GPTCONV_HOME: home.dir,
        GPTCONV_SECRET_STORE: 'file',
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const status = await waitFor(async () => {
      const r = await cli(['status', '--json'])
      return r.code === 0 ? (JSON.parse(r.stdout) as {url: string}) : undefined
    })
    url = status.url
    key = (JSON.parse((await cli(['env', '--json'])).stdout) as {OPENAI_API_KEY: string}).OPENAI_API_KEY
  })
  after(async () => {
    daemon?.kill('SIGKILL')
    await fake?.close()
    home.cleanup()
  })

  it('has no tokens at first and says how to add one', async () => {
    const res = await ask('anyone?')
    assert.equal(res.status, 503)
    assert.match(((await res.json()) as {error: {message: string}}).error.message, /gptconv tokens add/)
  })

  it('uses a token added with the CLI without a restart', async () => {
    assert.equal((await cli(['tokens', 'add', 'live', '--kind', 'api-key', '--upstream', 'fake'], KEY)).code, 0)
    const res = await waitFor(async () => {
      const r = await ask('new token')
      return r.status === 200 ? r : undefined
    }, 5000)
    assert.match(
      ((await res.json()) as {choices: Array<{message: {content: string}}>}).choices[0].message.content,
      /new token/,
    )
    assert.equal(fake.requests.at(-1)!.key, KEY)
  })

  it('stops using a removed token without a restart', async () => {
    assert.equal((await cli(['tokens', 'remove', 'live'])).code, 0)
    await waitFor(async () => ((await ask('gone?')).status === 503 ? true : undefined), 5000)
  })

  it('lets an open stream finish on SIGTERM, then exits 0', async () => {
    await cli(['tokens', 'add', 'live', '--kind', 'api-key', '--upstream', 'fake'], KEY)
    await waitFor(async () => ((await ask('ready?')).status === 200 ? true : undefined), 5000)
    fake.fault(KEY, {type: 'slow', chunkDelayMs: 120})
    const res = await ask('a slow answer to drain', true)
    const reader = res.body!.getReader()
    const first = await reader.read()
    const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)))
    daemon.kill('SIGTERM')
    let text = Buffer.from(first.value!).toString()
    for (;;) {
      const {done, value} = await reader.read()
      if (done) break
      text += Buffer.from(value).toString()
    }

    const body = parseSseBody(text)
    assert.equal(body.done, true, 'the stream was completed, not cut')
    assert.equal(await exited, 0)
    assert.equal(existsSync(join(home.dir, 'daemon.json')), false)
  })
})
