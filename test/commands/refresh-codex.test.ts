import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'
import {FakeCodex} from '../helpers/fake-codex.js'

type Result = {label: string; ok: boolean; status: string; detail: string}

describe('gptconv tokens refresh with a ChatGPT-plan token', {timeout: 120_000}, () => {
  const home = tempHome()
  let fake: FakeCodex
  const cli = (args: string[], input?: string) => runCli(args, {home: home.dir, input, timeoutMs: 60_000})
  const refresh = async (label: string) => {
    const r = await cli(['tokens', 'refresh', label, '--json'])
    return {code: r.code, results: JSON.parse(r.stdout) as Result[], stderr: r.stderr}
  }

  const secrets = () =>
    (JSON.parse(readFileSync(join(home.dir, 'secrets.json'), 'utf8')) as {secrets: Record<string, string>}).secrets

  before(async () => {
    // every exchange takes a while, so the processes below overlap; refresh tokens rotate (the default)
    fake = await FakeCodex.start({auth: {account: {email: 'erin@example.com', planType: 'plus'}, tokenDelayMs: 4000}})
    assert.equal(
      (
        await cli([
          'upstreams',
          'add',
          'plan',
          '--protocol',
          'codex',
          '--base-url',
          fake.baseUrl,
          '--auth-url',
          fake.authUrl,
        ])
      ).code,
      0,
    )
  })
  after(async () => {
    await fake?.close()
    home.cleanup()
  })

  it('several processes at once: exactly one exchange, every one of them succeeds', async () => {
    assert.equal(
      (
        await cli(
          ['tokens', 'add', 'erin', '--kind', 'refresh-token', '--upstream', 'plan'],
          fake.issueTokens().refresh_token,
        )
      ).code,
      0,
    )
    const before = fake.auth.exchangeCount('refresh_token')
    const runs = await Promise.all([refresh('erin'), refresh('erin'), refresh('erin')])
    assert.equal(
      fake.auth.exchangeCount('refresh_token') - before,
      1,
      'a second exchange would present the token the first had just spent',
    )
    for (const run of runs) {
      assert.equal(run.code, 0, `${JSON.stringify(run.results)} ${run.stderr}`)
      assert.deepEqual([run.results[0].ok, run.results[0].status], [true, 'renewed'])
    }

    const details = runs.map((r) => r.results[0].detail).sort()
    assert.match(details[0], /^access token valid until \S+ \(another gptconv process had just renewed it\)$/)
    assert.match(details[1], /another gptconv process had just renewed it/)
    assert.match(details[2], /; the refresh token was rotated and stored$/)
    assert.equal(fake.auth.tokenRequests.filter((r) => r.status === 401).length, 0)

    // the entry learned the account and plan from the new token
    const entry = (
      JSON.parse(readFileSync(join(home.dir, 'config.json'), 'utf8')) as {
        tokens: Record<string, {plan?: string; chatgptAccountId?: string}>
      }
    ).tokens.erin
    assert.equal(entry.plan, 'plus')
    assert.ok(entry.chatgptAccountId)

    // and the stored token is the live one
    fake.auth.set({tokenDelayMs: 0})
    const again = await refresh('erin')
    assert.equal(again.results[0].ok, true, again.results[0].detail)
    assert.equal(fake.auth.tokenRequests.at(-1)!.status, 200)
    assert.match(secrets().erin, /^rt_/)
  })

  it('a dead refresh token is reported with the login command, and nothing is stored', async () => {
    const stored = secrets().erin
    fake.auth.killRefreshToken(stored, 'invalidated')
    const {code, results} = await refresh('erin')
    assert.equal(code, 1)
    assert.equal(results[0].status, 'invalid')
    assert.equal(
      results[0].detail,
      'The refresh token was refused: it was revoked (signed out, or the password was changed) (refresh_token_invalidated). Sign in again with `gptconv login --upstream plan --label erin`.',
    )
    assert.equal(secrets().erin, stored)
  })
})
