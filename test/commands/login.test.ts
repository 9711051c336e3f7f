import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, describe, it} from 'node:test'

import {ROOT, runCli, tempHome} from '../helpers/cli.js'
import {call} from '../helpers/fake-codex-client.js'
import {FakeCodex, codexAccount} from '../helpers/fake-codex.js'

type Run = {
  child: ChildProcess
  stderr: () => string
  stdout: () => string
  waitFor: (re: RegExp) => Promise<RegExpMatchArray>
  exit: Promise<number>
}

/** The built CLI with piped stdio (no TTY: no browser is ever opened), its stderr watched as it comes. */
function spawnCli(args: string[], home: string): Run {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GPTCONV_HOME: home,
    GPTCONV_SECRET_STORE: 'file',
    NO_COLOR: '1',
    OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
  }
  const child = spawn(process.execPath, [join(ROOT, 'bin/run.js'), ...args], {env, stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  let err = ''
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')))
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')))
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const exit = new Promise<number>((resolve) =>
    child.once('exit', (code) => (clearTimeout(killer), resolve(code ?? 1))),
  )
  const waitFor = async (re: RegExp) => {
    for (let i = 0; i < 600; i++) {
      const match = re.exec(err)
      if (match) return match
      await sleep(25)
    }

    throw new Error(`stderr never matched ${re}:\n${err}`)
  }

  return {child, stderr: () => err, stdout: () => out, waitFor, exit}
}

/** Play the browser: open the printed link and follow its redirect to the callback server. */
async function followLink(run: Run): Promise<URL> {
  const [url] = await run.waitFor(/http:\/\/127\.0\.0\.1:\d+\/oauth\/authorize\?\S+/)
  const authorize = await call(url)
  assert.equal(authorize.status, 302, authorize.text)
  const callback = new URL(authorize.headers.location)
  callback.hostname = '127.0.0.1'
  assert.equal((await call(callback.href)).status, callback.searchParams.has('code') ? 200 : 400)
  return callback
}

type Secrets = {secrets: Record<string, string>}
type Config = {upstreams: Record<string, unknown>; tokens: Record<string, Record<string, unknown>>}

describe('gptconv login', {timeout: 120_000}, () => {
  const home = tempHome()
  let fake: FakeCodex
  const read = <T>(name: string) => JSON.parse(readFileSync(join(home.dir, name), 'utf8')) as T
  const account = codexAccount({email: 'carol@example.com', planType: 'plus'})

  before(async () => {
    fake = await FakeCodex.start({auth: {account: {email: 'carol@example.com', planType: 'plus'}}})
    const add = await runCli(
      ['upstreams', 'add', 'plan', '--protocol', 'codex', '--base-url', fake.baseUrl, '--auth-url', fake.authUrl],
      {home: home.dir},
    )
    assert.equal(add.code, 0, add.stderr)
  })
  after(async () => {
    await fake?.close()
    home.cleanup()
  })

  it('in the browser: prints the link on stderr, stores the login as a refresh-token named after the e-mail, prints no secret', async () => {
    const run = spawnCli(['login', '--callback-port', '0', '--json'], home.dir)
    const callback = await followLink(run)
    assert.equal(await run.exit, 0, run.stderr())
    const view = JSON.parse(run.stdout()) as Record<string, unknown>
    const {secrets} = read<Secrets>('secrets.json')
    const refresh = secrets['carol@example.com']
    const access = secrets['carol@example.com#access']
    assert.match(refresh, /^rt_/)
    assert.deepEqual(
      {...view, addedAt: '', expiresAt: ''},
      {
        label: 'carol@example.com',
        kind: 'refresh-token',
        upstream: 'plan',
        state: 'ok',
        expiresAt: '',
        lastUsedAt: null,
        secret: `rt_…${refresh.slice(-4)}`,
        store: 'file',
        account: 'carol@example.com',
        chatgptAccount: `…${account.accountId.slice(-4)}`,
        plan: 'plus',
        addedAt: '',
      },
    )
    const entry = read<Config>('config.json').tokens['carol@example.com']
    assert.deepEqual([entry.chatgptAccountId, entry.plan, entry.expiresAt], [account.accountId, 'plus', view.expiresAt])
    assert.ok(Math.abs(Date.parse(entry.expiresAt as string) - (Date.now() + 864_000_000)) < 60_000)
    // the cached access token is the live one the backend takes
    const models = await call(`${fake.baseUrl}/models?client_version=0.160.0`, {
      headers: fake.authHeaders({access_token: access, account_id: account.accountId}),
    })
    assert.equal(models.status, 200)

    assert.match(run.stderr(), /Sign in to ChatGPT in your browser:/)
    assert.match(run.stderr(), /Waiting for the browser to come back to http:\/\/localhost:\d+\/auth\/callback/)
    const code = callback.searchParams.get('code')!
    const verifier = fake.auth.tokenRequests.at(-1)!.fields.code_verifier as string
    for (const secret of [refresh, access, code, verifier]) {
      assert.ok(!run.stdout().includes(secret) && !run.stderr().includes(secret), 'a secret was printed')
    }
  })

  it('signing in again to the same account replaces its token without --force; another label for it needs none either', async () => {
    const run = spawnCli(['login', '--upstream', 'plan', '--callback-port', '0'], home.dir)
    await followLink(run)
    assert.equal(await run.exit, 0, run.stderr())
    assert.match(
      run.stdout(),
      /^Signed in as carol@example\.com \(ChatGPT plus\)\. Stored as refresh-token "carol@example\.com" \(rt_…[\w-]{4}\) on upstream plan; gptconv renews its access by itself\.\n$/,
    )
    const list = JSON.parse((await runCli(['tokens', 'list', '--json'], {home: home.dir})).stdout) as Array<{
      label: string
    }>
    assert.deepEqual(
      list.map((t) => t.label),
      ['carol@example.com'],
    )
  })

  it('with a device code: prints the code and the page, waits for approval', async () => {
    const run = spawnCli(['login', '--device', '--label', 'carol-device', '--json'], home.dir)
    const [, userCode] = await run.waitFor(/and enter the code\n\n {2}(\w{4}-\w{4})\n/)
    assert.match(run.stderr(), new RegExp(`open\\n\\n  ${fake.authUrl.replaceAll('.', '\\.')}/codex/device\\n`))
    fake.auth.approve(userCode)
    assert.equal(await run.exit, 0, run.stderr())
    const view = JSON.parse(run.stdout()) as {label: string; plan: string; account: string}
    assert.deepEqual([view.label, view.plan, view.account], ['carol-device', 'plus', 'carol@example.com'])
    assert.equal(fake.auth.tokenRequests.at(-1)!.fields.redirect_uri, `${fake.authUrl}/deviceauth/callback`)
  })

  it('a refusal in the browser stores nothing and exits 1', async () => {
    fake.auth.set({deny: 'access_denied'})
    try {
      const run = spawnCli(['login', '--callback-port', '0', '--label', 'refused'], home.dir)
      await followLink(run)
      assert.equal(await run.exit, 1)
      assert.match(run.stderr(), /Error: The sign-in was refused \(access_denied: The user denied the request\.\)\./)
      assert.equal(read<Config>('config.json').tokens.refused, undefined)
    } finally {
      fake.auth.set({deny: undefined})
    }
  })

  it('refuses an upstream that is not codex, and a label taken by another token', async () => {
    const web = await runCli(['login', '--upstream', 'openai'], {home: home.dir})
    assert.equal(web.code, 2)
    assert.match(web.stderr, /Upstream "openai" is openai; a ChatGPT-plan login needs a codex upstream\./)
    assert.equal(
      (
        await runCli(['tokens', 'add', 'work', '--kind', 'api-key'], {
          home: home.dir,
          input: 'sk-test-key-for-the-label-clash-0001',
        })
      ).code,
      0,
    )
    const run = spawnCli(['login', '--callback-port', '0', '--label', 'work'], home.dir)
    await followLink(run)
    assert.equal(await run.exit, 1)
    assert.match(run.stderr(), /A token labelled "work" already exists\./)
  })
})
