import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'
import {call} from '../helpers/fake-codex-client.js'
import {CODEX_CLIENT_ID, FakeCodex, codexAccount, writeCodexAuthJson} from '../helpers/fake-codex.js'

type Config = {
  upstreams: Record<string, Record<string, unknown>>
  tokens: Record<string, {addedAt: string; chatgptAccountId?: string; plan?: string; expiresAt?: string}>
}
type View = {
  label: string
  plan?: string
  chatgptAccount?: string
  limits?: unknown
  limitsSeenAt?: string
  expiresAt: string | null
  account?: string
  upstream: string
}
type Balance = {tokens: Array<Record<string, unknown>>; total: Record<string, unknown>}

describe('ChatGPT-plan tokens: import from Codex CLI, list, balance', {timeout: 120_000}, () => {
  const home = tempHome()
  const codexHome = join(home.dir, 'codex-home')
  let fake: FakeCodex
  const account = codexAccount({email: 'dave@example.com', planType: 'pro'})
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, {home: home.dir, env: {TZ: 'UTC', CODEX_HOME: codexHome, ...env}})
  const config = () => JSON.parse(readFileSync(join(home.dir, 'config.json'), 'utf8')) as Config
  const secrets = () =>
    (JSON.parse(readFileSync(join(home.dir, 'secrets.json'), 'utf8')) as {secrets: Record<string, string>}).secrets

  before(async () => {
    fake = await FakeCodex.start({auth: {account: {email: 'dave@example.com', planType: 'pro'}}})
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

  it("upstreams add: codex defaults to OpenAI's URLs and shows them; the issuer is not a token endpoint", async () => {
    const r = await cli(['upstreams', 'add', 'official', '--protocol', 'codex', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), {
      name: 'official',
      protocol: 'codex',
      baseUrl: 'https://chatgpt.com/backend-api/codex',
      authUrl: 'https://auth.openai.com',
      tokens: 0,
    })
    assert.match(
      (await cli(['upstreams', 'list'])).stdout,
      /^official\s+codex\s+https:\/\/chatgpt\.com\/backend-api\/codex\s+https:\/\/auth\.openai\.com\s/m,
    )
    const bad = await cli([
      'upstreams',
      'add',
      'x',
      '--protocol',
      'codex',
      '--auth-url',
      'https://auth.openai.com/oauth/token',
    ])
    assert.equal(bad.code, 2)
    assert.match(
      bad.stderr,
      /--auth-url of a codex upstream is the OAuth issuer, not its token endpoint\.\nTry this: Drop the path: --auth-url https:\/\/auth\.openai\.com\n/,
    )
    const noBase = await cli(['upstreams', 'add', 'x', '--protocol', 'openai'])
    assert.equal(noBase.code, 2)
    assert.match(noBase.stderr, /--base-url is required for openai upstreams\./)
    assert.equal((await cli(['upstreams', 'remove', 'official'])).code, 0)
  })

  it("tokens add --from-codex-auth: imports $CODEX_HOME/auth.json, says the file's copy stops working, prints no secret", async () => {
    const tokens = fake.issueTokens()
    await writeCodexAuthJson(codexHome, tokens)
    const r = await cli(['tokens', 'add', 'dave', '--kind', 'refresh-token', '--upstream', 'plan', '--from-codex-auth'])
    assert.equal(r.code, 0, r.stderr)
    const file = join(codexHome, 'auth.json')
    assert.equal(
      r.stdout,
      `Imported the ChatGPT login of dave@example.com (pro) from ${file} as refresh-token "dave" (rt_…${tokens.refresh_token.slice(-4)}) in the secrets file, upstream plan.\n` +
        `From now on gptconv renews this login itself. Its refresh token works only once, so after gptconv's first renewal the copy in ${file} stops working: Codex CLI will ask you to sign in again (its new login is then separate from this one).\n`,
    )
    for (const secret of [tokens.refresh_token, tokens.access_token, tokens.id_token])
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret))
    assert.equal(secrets().dave, tokens.refresh_token)
    assert.equal(secrets()['dave#access'], tokens.access_token)
    const entry = config().tokens.dave
    assert.deepEqual([entry.chatgptAccountId, entry.plan], [account.accountId, 'pro'])

    // after gptconv's first renewal the file's refresh token is spent, as the notice says
    const refresh = JSON.parse((await cli(['tokens', 'refresh', 'dave', '--json'])).stdout) as Array<{
      ok: boolean
      detail: string
    }>
    assert.equal(refresh[0].ok, true, refresh[0].detail)
    assert.match(refresh[0].detail, /the refresh token was rotated and stored/)
    const stale = await call(`${fake.authUrl}/oauth/token`, {
      json: {client_id: CODEX_CLIENT_ID, grant_type: 'refresh_token', refresh_token: tokens.refresh_token},
    })
    assert.equal(stale.status, 401)
    assert.match(stale.text, /refresh_token_reused/)
  })

  it('--from-codex-auth takes a file as --from-codex-auth=FILE or a path after it', async () => {
    for (const [label, form] of [
      ['eq', 'eq'],
      ['spaced', 'spaced'],
    ] as const) {
      const tokens = fake.issueTokens({email: `${label}@example.com`, planType: 'team'})
      const file = await writeCodexAuthJson(join(home.dir, `other-${label}`), tokens)
      const args = form === 'eq' ? [`--from-codex-auth=${file}`] : ['--from-codex-auth', file]
      const r = await cli(['tokens', 'add', label, '--kind', 'refresh-token', ...args, '--json'])
      assert.equal(r.code, 0, r.stderr)
      const view = JSON.parse(r.stdout) as View & {importedFrom: string}
      assert.deepEqual(
        [view.label, view.account, view.plan, view.upstream, view.importedFrom],
        [label, `${label}@example.com`, 'team', 'plan', file],
      )
    }
  })

  it('refuses an API-key auth.json without echoing the key, and a file with no refresh token', async () => {
    const key = 'sk-proj-codexauthjsonapikey0123456789abcdefghijklmnop'
    const file = join(home.dir, 'apikey.json')
    writeFileSync(file, JSON.stringify({auth_mode: 'apikey', OPENAI_API_KEY: key}))
    const r = await cli(['tokens', 'add', 'k', '--kind', 'refresh-token', `--from-codex-auth=${file}`])
    assert.equal(r.code, 2)
    assert.equal(
      r.stderr,
      `Error: ${file} holds an API-key login (auth_mode "apikey"), not a ChatGPT sign-in: there is no refresh token to import.\nCode: GPTCONV_CODEX_AUTH_FILE\nTry this: Add the API key itself as an api-key token (printf %s "$KEY" | gptconv tokens add LABEL --kind api-key), or sign in to your ChatGPT plan: gptconv login\n`,
    )
    // no auth_mode, but a key: Codex reads it as an API-key login too
    writeFileSync(file, JSON.stringify({OPENAI_API_KEY: key, tokens: null}))
    assert.match(
      (await cli(['tokens', 'add', 'k', '--kind', 'refresh-token', `--from-codex-auth=${file}`])).stderr,
      /holds an API-key login/,
    )
    writeFileSync(file, JSON.stringify({auth_mode: 'chatgpt', OPENAI_API_KEY: null, tokens: {id_token: 'x'}}))
    assert.match(
      (await cli(['tokens', 'add', 'k', '--kind', 'refresh-token', `--from-codex-auth=${file}`])).stderr,
      /has no tokens\.refresh_token \(auth_mode "chatgpt"\)/,
    )
    const kind = await cli(['tokens', 'add', 'k', '--kind', 'api-key', `--from-codex-auth=${file}`])
    assert.match(kind.stderr, /--from-codex-auth imports a refresh token: pass --kind refresh-token\./)
    assert.ok(!JSON.stringify(config()).includes(key))
  })

  /** What the daemon writes to state.json for a token once the backend told it the plan's usage. */
  function recordLimits(
    label: string,
    windows: unknown[],
    seenAt = new Date(Date.now() - 120_000).toISOString(),
  ): void {
    const state = {tokens: {[label]: {addedAt: config().tokens[label].addedAt, limits: {plan: 'pro', windows, seenAt}}}}
    writeFileSync(join(home.dir, 'state.json'), JSON.stringify(state))
  }

  it('tokens list: the plan, the masked account id and the usage windows the daemon saw', async () => {
    const inAnHour = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 3_600_000)
    const inThreeDays = new Date(Date.UTC(2099, 9, 3, 9, 0))
    const windows = [
      {window: '5h', usedPercent: 42, resetsAt: inAnHour.toISOString()},
      {window: '7d', usedPercent: 84.4, resetsAt: inThreeDays.toISOString()},
    ]
    recordLimits('dave', windows)
    const clock = `${String(inAnHour.getUTCHours()).padStart(2, '0')}:${String(inAnHour.getUTCMinutes()).padStart(2, '0')}`
    const table = await cli(['tokens', 'list', 'dave'])
    assert.equal(table.code, 0, table.stderr)
    assert.match(
      table.stdout,
      new RegExp(
        `^dave: ChatGPT pro, account …${account.accountId.slice(-4)} — 5h: 42% used, resets ${clock}; 7d: 84% used, resets Oct 3 09:00 \\(seen 2 min ago\\)$`,
        'm',
      ),
    )
    const [view] = JSON.parse((await cli(['tokens', 'list', 'dave', '--json'])).stdout) as View[]
    assert.deepEqual([view.plan, view.chatgptAccount, view.limits], ['pro', `…${account.accountId.slice(-4)}`, windows])
    assert.ok(view.limitsSeenAt)
    assert.ok(!JSON.stringify(view).includes(account.accountId), 'the whole account id stays in the config')
  })

  it('balance: a ChatGPT-plan token shows its usage windows from the runtime state (no USD, exit 0)', async () => {
    const windows = [{window: '5h', usedPercent: 42, resetsAt: '2099-10-01T15:28:00.000Z'}]
    recordLimits('dave', windows, '2099-01-01T00:00:00.000Z')
    const r = await cli(['balance', 'dave', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const report = JSON.parse(r.stdout) as Balance
    assert.deepEqual(report.tokens[0], {
      label: 'dave',
      grantedUsd: null,
      usedUsd: null,
      balanceUsd: null,
      window: report.tokens[0].window,
      estimated: false,
      refused: [],
      source: 'codex-limits',
      plan: 'pro',
      limits: windows,
      limitsSeenAt: '2099-01-01T00:00:00.000Z',
    })
    assert.deepEqual(report.total, {grantedUsd: null, usedUsd: null, balanceUsd: null})
    const text = await cli(['balance', 'dave'])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /^dave\s+codex-limits \(pro\)\s+-\s+-\s+-\s+-$/m)
    assert.match(text.stdout, /^dave: pro plan — 5h: 42% used, resets Oct 1 15:28/m)
  })

  it('balance: without recorded limits, asks the usage endpoint with the cached access token and account id', async () => {
    writeFileSync(join(home.dir, 'state.json'), '{"tokens":{}}')
    const before = fake.backend.requests.length
    const r = await cli(['balance', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const report = JSON.parse(r.stdout) as Balance
    const dave = report.tokens.find((t) => t.label === 'dave')!
    const {primary, secondary} = fake.backend.rateLimits
    assert.deepEqual(
      [dave.source, dave.plan, dave.limits],
      [
        'codex-limits',
        'pro',
        [
          {window: '5h', usedPercent: 7, resetsAt: new Date(primary!.resetAt * 1000).toISOString()},
          {window: '7d', usedPercent: 21, resetsAt: new Date(secondary!.resetAt * 1000).toISOString()},
        ],
      ],
    )
    assert.deepEqual(
      report.tokens.map((t) => t.label),
      ['dave', 'eq', 'spaced'],
      'every ChatGPT-plan token, with no label named',
    )
    const asked = fake.backend.requests.slice(before).filter((q) => q.route === 'usage')
    assert.equal(asked.length, 3)
    assert.equal(asked[0].headers.authorization, `Bearer ${secrets()['dave#access']}`)
    assert.equal(asked[0].headers['chatgpt-account-id'], account.accountId)
    assert.equal(asked[0].status, 200)
  })

  it('an access token alone on a codex upstream: its account and plan are read, and tokens refresh asks the plan', async () => {
    const access = fake.auth.issueAccessToken()
    const add = await runCli(['tokens', 'add', 'bare', '--kind', 'access-token', '--upstream', 'plan', '--json'], {
      home: home.dir,
      input: access,
    })
    assert.equal(add.code, 0, add.stderr)
    const view = JSON.parse(add.stdout) as View
    assert.deepEqual(
      [view.plan, view.chatgptAccount, view.account],
      ['pro', `…${account.accountId.slice(-4)}`, 'dave@example.com'],
    )
    assert.equal(config().tokens.bare.chatgptAccountId, account.accountId)
    const [checked] = JSON.parse((await cli(['tokens', 'refresh', 'bare', '--json'])).stdout) as Array<{
      ok: boolean
      status: string
      detail: string
    }>
    assert.deepEqual([checked.ok, checked.status], [true, 'valid'])
    assert.match(
      checked.detail,
      /^the ChatGPT plan accepts it \(5h: 7% used, resets \d\d:\d\d; 7d: 21% used, resets \w{3} \d+ \d\d:\d\d\); valid until /,
    )
    fake.auth.tokens.revokeAccess(access)
    const [refused] = JSON.parse((await cli(['tokens', 'refresh', 'bare', '--json'])).stdout) as Array<{
      ok: boolean
      status: string
      detail: string
    }>
    assert.deepEqual([refused.ok, refused.status], [false, 'invalid'])
    assert.ok(!refused.detail.includes(access))
  })
})
