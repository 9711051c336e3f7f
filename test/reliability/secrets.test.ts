import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readFileSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, describe, it} from 'node:test'

import {ROOT, runCli, tempHome} from '../helpers/cli.js'
import {FakeChatGPTWeb} from '../helpers/fake-chatgpt-web.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'

const API_KEY = 'sk-scan-apikey-abcdefghijklmnopqrst1234'

/**
 * One daemon run through most of what gptconv does — successes, refusals that echo the
 * key, failovers, refresh-token rotation, streams, the CLI's commands — and then every byte
 * it produced is searched for the upstream secrets: responses, headers, CLI output, the
 * log, and every file in the state directory except the secrets file itself.
 */
describe('no secret anywhere', () => {
  const home = tempHome()
  let fake: FakeOpenAI
  let web: FakeChatGPTWeb
  const secrets: string[] = [API_KEY]
  const seen: string[] = []
  const cli = async (args: string[], input?: string) => {
    const r = await runCli(args, {home: home.dir, input})
    seen.push(r.stdout, r.stderr)
    return r
  }

  before(async () => {
    fake = await FakeOpenAI.start({keys: [API_KEY]})
    web = await FakeChatGPTWeb.start()
    const access = web.issueAccessToken('scan@example.com')
    const refresh = web.issueRefreshToken('scan2@example.com')
    secrets.push(access, refresh)
    await cli(['upstreams', 'add', 'fake', '--protocol', 'openai', '--base-url', fake.baseUrl])
    await cli([
      'upstreams',
      'add',
      'web',
      '--protocol',
      'chatgpt-web',
      '--base-url',
      web.origin,
      '--auth-url',
      `${web.origin}/oauth/token`,
    ])
    await cli(['tokens', 'add', 'key', '--kind', 'api-key', '--upstream', 'fake', '--granted-usd', '5'], API_KEY)
    await cli(['tokens', 'add', 'access', '--kind', 'access-token', '--upstream', 'web', '--models', 'gpt-4o'], access)
    await cli(
      ['tokens', 'add', 'refresh', '--kind', 'refresh-token', '--upstream', 'web', '--models', 'gpt-4'],
      refresh,
    )
    await cli(['config', 'set', 'pool.cooldownMs', '300'])
  })
  after(async () => {
    await fake?.close()
    await web?.close()
    home.cleanup()
  })

  it('through a whole session of use', async () => {
    await cli(['serve', '--port', '0', '--detach', '--log-level', 'debug'])
    const {OPENAI_BASE_URL: url, OPENAI_API_KEY: client} = JSON.parse((await cli(['env', '--json'])).stdout) as {
      OPENAI_BASE_URL: string
      OPENAI_API_KEY: string
    }
    const call = async (path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: {authorization: `Bearer ${client}`, 'content-type': 'application/json', ...headers},
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      seen.push(await res.text(), JSON.stringify([...res.headers]))
      return res.status
    }

    const chat = (model: string, extra: Record<string, unknown> = {}) => ({
      model,
      messages: [{role: 'user', content: 'hello'}],
      ...extra,
    })
    assert.equal(await call('/chat/completions', chat('gpt-4o-mini')), 200)
    assert.equal(await call('/chat/completions', chat('gpt-4o-mini', {stream: true})), 200)
    assert.equal(await call('/completions', {model: 'gpt-4o-mini', prompt: ['a', 'b']}), 200)
    assert.equal(await call('/chat/completions', chat('gpt-4o')), 200)
    assert.equal(await call('/chat/completions', chat('gpt-4', {stream: true})), 200)
    assert.equal(await call('/chat/completions', chat('gpt-4o-mini'), {'x-session-id': 'scan'}), 200)
    await call('/models')
    await call('/embeddings', {model: 'text-embedding-3-small', input: 'x'})
    // an upstream that echoes the whole key in its refusals, a 500, a broken stream
    fake.fault('*', {
      type: 'status',
      status: 400,
      body: {
        error: {message: `Bad request for key ${API_KEY}`, type: 'invalid_request_error', param: null, code: null},
      },
    })
    await call('/chat/completions', chat('gpt-4o-mini'))
    fake.fault(
      '*',
      {
        type: 'status',
        status: 500,
        body: {error: {message: `internal error, key=${API_KEY}`, type: 'server_error', param: null, code: null}},
      },
      3,
    )
    await call('/chat/completions', chat('gpt-4o-mini'))
    fake.fault('*', {type: 'die-mid-stream', afterChunks: 1})
    await call('/chat/completions', chat('gpt-4o-mini', {stream: true}))
    // the auth server names the refresh token it was given (the rotated one gptconv holds now)
    const current = (
      JSON.parse(readFileSync(join(home.dir, 'secrets.json'), 'utf8')) as {secrets: Record<string, string>}
    ).secrets.refresh
    secrets.push(current)
    web.authFault({
      type: 'status',
      status: 400,
      body: {error: 'invalid_grant', error_description: `refresh token ${current} is unknown`},
    })
    await fetch(`${new URL(url).origin}/admin/tokens/refresh/refresh`, {
      method: 'POST',
      headers: {authorization: `Bearer ${client}`},
    }).then(async (r) => seen.push(await r.text()))
    fake.fault('*', {
      type: 'status',
      status: 401,
      body: {
        error: {
          message: `Incorrect API key provided: ${API_KEY}`,
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      },
    })
    await call('/chat/completions', chat('gpt-4o-mini'))
    for (const args of [
      ['tokens', 'list'],
      ['tokens', 'list', '--json'],
      ['tokens', 'refresh'],
      ['tokens', 'refresh', '--json'],
      ['balance', '--json'],
      ['usage', '--json'],
      ['status', '--json'],
      ['logs', '-n', '500'],
      ['logs', '-n', '500', '--json'],
      ['upstreams', 'list', '--json'],
      ['config', 'list', '--json'],
    ]) {
      await cli(args)
    }

    await cli(['stop'])
    for (const text of seen)
      for (const secret of secrets) assert.ok(!text.includes(secret), `a secret leaked into: ${text.slice(0, 300)}`)
    for (const name of readdirSync(home.dir)) {
      if (name === 'secrets.json' || name.endsWith('.lock')) continue
      const text = readFileSync(join(home.dir, name), 'utf8')
      for (const secret of secrets) assert.ok(!text.includes(secret), `${name} holds a secret`)
    }
  })

  it('keeps every state file to its owner', () => {
    assert.equal(statSync(home.dir).mode & 0o777, 0o700)
    for (const name of readdirSync(home.dir)) {
      if (name.endsWith('.lock')) continue
      assert.equal(
        statSync(join(home.dir, name)).mode & 0o077,
        0,
        `${name} is readable by others: ${(statSync(join(home.dir, name)).mode & 0o777).toString(8)}`,
      )
    }
  })
})

describe('crash during a refresh-token rotation', () => {
  const home = tempHome()
  let web: FakeChatGPTWeb
  after(async () => {
    await web?.close()
    home.cleanup()
  })

  it('a daemon killed while its exchange is in flight leaves the refresh token working', async () => {
    web = await FakeChatGPTWeb.start()
    const cli = (args: string[], input?: string) => runCli(args, {home: home.dir, input})
    const refresh = web.issueRefreshToken('crash@example.com')
    await cli([
      'upstreams',
      'add',
      'web',
      '--protocol',
      'chatgpt-web',
      '--base-url',
      web.origin,
      '--auth-url',
      `${web.origin}/auth/refresh_token`,
    ])
    await cli(['tokens', 'add', 'r', '--kind', 'refresh-token'], refresh)
    web.authFault({type: 'hang'})
    // the daemon process itself (what `gptconv serve` starts), so that SIGKILL hits the one doing the exchange
    const env = {
      PATH: process.env.PATH,
      HOME: home.dir,
      GPTCONV_HOME: home.dir,
      GPTCONV_SECRET_STORE: 'file',
      GPTCONV_DAEMON_OPTIONS: JSON.stringify({port: 0}),
    }
    const daemon = spawn(process.execPath, [join(ROOT, 'dist/daemon/main.js')], {env, stdio: 'ignore'})
    for (let i = 0; i < 100 && web.exchanges.length === 0; i++) await sleep(50)
    assert.equal(web.exchanges.length, 1, 'the daemon started its exchange')
    daemon.kill('SIGKILL')
    await new Promise((resolve) => daemon.once('exit', resolve))
    const r = await cli(['tokens', 'refresh', 'r', '--json'])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.deepEqual(
      (JSON.parse(r.stdout) as Array<{status: string}>).map((x) => x.status),
      ['renewed'],
    )
  })
})
