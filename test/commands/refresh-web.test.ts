import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, describe, it} from 'node:test'

import {ROOT, runCli, tempHome} from '../helpers/cli.js'
import {FakeChatGPTWeb} from '../helpers/fake-chatgpt-web.js'

type Result = {label: string; ok: boolean; status: string; detail: string}

describe('gptconv tokens refresh with ChatGPT tokens', () => {
  const home = tempHome()
  let web: FakeChatGPTWeb
  let refreshToken = ''
  let access = ''
  const cli = (args: string[], input?: string) => runCli(args, {home: home.dir, input})
  const refresh = async (...labels: string[]) => {
    const r = await cli(['tokens', 'refresh', ...labels, '--json'])
    return {code: r.code, results: JSON.parse(r.stdout) as Result[], stderr: r.stderr}
  }

  before(async () => {
    web = await FakeChatGPTWeb.start()
    refreshToken = web.issueRefreshToken('dana@example.com')
    access = web.issueAccessToken('erin@example.com')
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
    assert.equal((await cli(['tokens', 'add', 'dana', '--kind', 'refresh-token'], refreshToken)).code, 0)
    assert.equal((await cli(['tokens', 'add', 'erin', '--kind', 'access-token'], access)).code, 0)
  })
  after(async () => {
    await web?.close()
    home.cleanup()
  })

  it('exchanges a refresh token, stores the rotated one, and works again with it', async () => {
    for (const round of [1, 2]) {
      const {code, results} = await refresh('dana')
      assert.equal(code, 0, `round ${round}`)
      assert.deepEqual([results[0].ok, results[0].status], [true, 'renewed'])
      assert.match(results[0].detail, /the refresh token was rotated and stored/)
    }

    assert.deepEqual(
      web.exchanges.map((e) => e.ok),
      [true, true],
    )
    assert.equal(web.exchanges[0].refreshToken, refreshToken)
    assert.notEqual(web.exchanges[1].refreshToken, refreshToken, 'the second exchange used the rotated token')
    assert.equal((web.exchanges[0].body as {client_id: string; grant_type: string}).grant_type, 'refresh_token')
  })

  it('checks an access token against the backend', async () => {
    assert.deepEqual(
      (await refresh('erin')).results.map((r) => [r.ok, r.status]),
      [[true, 'valid']],
    )
    web.revoke(access)
    const {code, results} = await refresh('erin')
    assert.equal(code, 1)
    assert.deepEqual(
      results.map((r) => [r.ok, r.status]),
      [[false, 'invalid']],
    )
    assert.ok(!results[0].detail.includes(access))
  })

  it('says when the refresh token is refused', async () => {
    web.authFault({
      type: 'status',
      status: 400,
      body: {error: 'invalid_grant', error_description: 'Refresh token revoked'},
    })
    const {code, results} = await refresh('dana')
    assert.equal(code, 1)
    assert.equal(results[0].status, 'invalid')
    assert.match(results[0].detail, /refused \(400: .*revoked/)
  })

  it('asks the running daemon to rotate instead of doing it itself', async () => {
    const daemon = spawn(process.execPath, [join(ROOT, 'bin/run.js'), 'serve', '--port', '0'], {
      env: {PATH: process.env.PATH, HOME: home.dir, GPTCONV_HOME: home.dir, GPTCONV_SECRET_STORE: 'file'},
      stdio: 'ignore',
    })
    try {
      for (let i = 0; i < 100 && (await cli(['status'])).code !== 0; i++) await sleep(100)
      const before = web.exchanges.length
      const {code, results} = await refresh('dana')
      assert.equal(code, 0)
      assert.match(results[0].detail, /renewed by the running daemon/)
      assert.ok(web.exchanges.length > before)
    } finally {
      daemon.kill('SIGTERM')
      await new Promise((resolve) => daemon.once('exit', resolve))
    }
  })
})
