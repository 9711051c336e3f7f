import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import type {TokenEntry} from '../../src/core/config.js'
import {createContext} from '../../src/core/context.js'
import {RefreshFailedError, RefreshRefusedError, holdsUnstoredToken, renewToken} from '../../src/core/refresh.js'
import type {SecretStore} from '../../src/core/secrets/index.js'
import {withTokenLock} from '../../src/core/token-lock.js'
import {tempHome} from '../helpers/cli.js'
import {CODEX_CLIENT_ID, FakeCodex, codexAccount} from '../helpers/fake-codex.js'

/** An in-memory store whose writes of the refresh token fail the first `failures` times (a locked keychain, a full disk). */
class FlakyStore implements SecretStore {
  readonly kind = 'file' as const
  readonly location = 'memory'
  readonly values = new Map<string, string>()
  readonly writes: string[] = []
  failures: number
  constructor(
    private readonly label: string,
    failures = 0,
  ) {
    this.failures = failures
  }

  async get(account: string) {
    return this.values.get(account) ?? null
  }

  async set(account: string, secret: string) {
    if (account === this.label && this.failures > 0) {
      this.failures--
      throw new Error('No space left on device')
    }

    this.writes.push(account)
    this.values.set(account, secret)
  }

  async delete(account: string) {
    return this.values.delete(account)
  }
}

let serial = 0

describe('codex refresh tokens', {timeout: 60_000}, () => {
  const home = tempHome()
  const warnings: string[] = []
  const ctx = createContext({env: {GPTCONV_HOME: home.dir}, warn: (m) => warnings.push(m)})
  let fake: FakeCodex
  const upstream = () => ({name: 'plan', protocol: 'codex' as const, baseUrl: fake.baseUrl, authUrl: fake.authUrl})
  /** A token entry of its own per test: renewals are merged and locked per label and addedAt. */
  const entry = (): TokenEntry => ({
    label: 'alice@example.com',
    kind: 'refresh-token',
    upstream: 'plan',
    store: 'file',
    masked: 'rt_…',
    addedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, ++serial)).toISOString(),
  })
  const fast = {retryDelayMs: 1, lockWaitMs: 5000}

  before(async () => {
    fake = await FakeCodex.start({auth: {account: {email: 'alice@example.com', planType: 'pro'}}})
  })
  after(async () => {
    await fake?.close()
    home.cleanup()
  })

  it("sends Codex CLI's JSON refresh grant, stores the rotated token, caches the access token, and reads account and plan", async () => {
    const store = new FlakyStore('alice@example.com')
    const first = fake.issueTokens().refresh_token
    store.values.set('alice@example.com', first)
    const before = fake.auth.tokenRequests.length
    const exchange = await renewToken(ctx, entry(), upstream(), store, fast)
    const sent = fake.auth.tokenRequests.slice(before)
    assert.deepEqual(
      sent.map((r) => [r.grantType, r.format, r.status]),
      [['refresh_token', 'json', 200]],
    )
    assert.deepEqual(sent[0].fields, {
      client_id: CODEX_CLIENT_ID,
      grant_type: 'refresh_token',
      refresh_token: first,
      scope: 'openid profile email',
    })
    assert.deepEqual(store.writes, ['alice@example.com', 'alice@example.com#access'])
    assert.equal(store.values.get('alice@example.com'), exchange.refreshToken)
    assert.notEqual(exchange.refreshToken, first)
    assert.equal(store.values.get('alice@example.com#access'), exchange.accessToken)
    assert.deepEqual(
      [exchange.account, exchange.chatgptAccountId, exchange.plan],
      ['alice@example.com', codexAccount({email: 'alice@example.com'}).accountId, 'pro'],
    )
    assert.ok(Math.abs(exchange.expiresAt.getTime() - (Date.now() + 864_000_000)) < 10_000)
  })

  it('a dead refresh token is refused for good, with the reason and the login command', async () => {
    for (const why of ['reused', 'expired', 'invalidated'] as const) {
      const store = new FlakyStore('alice@example.com')
      const token = fake.issueTokens().refresh_token
      fake.auth.killRefreshToken(token, why)
      store.values.set('alice@example.com', token)
      await assert.rejects(renewToken(ctx, entry(), upstream(), store, fast), (e: unknown) => {
        assert.ok(e instanceof RefreshRefusedError, String(e))
        assert.match(
          e.message,
          new RegExp(
            `\\(refresh_token_${why}\\)\\. Sign in again with \`gptconv login --upstream plan --label alice@example\\.com\`\\.$`,
          ),
        )
        assert.ok(!e.message.includes(token))
        return true
      })
      assert.equal(store.values.get('alice@example.com'), token, 'nothing stored')
    }
  })

  it('the codes count wherever the body puts them, and any 401 is final', async () => {
    const cases: Array<[number, unknown, 'refused' | 'failed']> = [
      [400, {error: 'refresh_token_expired'}, 'refused'],
      [400, {code: 'refresh_token_invalidated'}, 'refused'],
      [401, {error: {message: 'nope', code: 'invalid_grant'}}, 'refused'],
      [400, {error: {message: 'Invalid scope', code: 'invalid_scope'}}, 'failed'],
      [403, {detail: 'blocked'}, 'failed'],
      [500, undefined, 'failed'],
    ]
    for (const [status, body, verdict] of cases) {
      const store = new FlakyStore('alice@example.com')
      store.values.set('alice@example.com', fake.issueTokens().refresh_token)
      fake.auth.tokenFault({type: 'status', status, body})
      await assert.rejects(
        renewToken(ctx, entry(), upstream(), store, fast),
        verdict === 'refused' ? RefreshRefusedError : RefreshFailedError,
        `${status} ${JSON.stringify(body)}`,
      )
    }

    const store = new FlakyStore('alice@example.com')
    store.values.set('alice@example.com', fake.issueTokens().refresh_token)
    fake.auth.tokenFault({type: 'garbage'})
    await assert.rejects(renewToken(ctx, entry(), upstream(), store, fast), /not JSON/)
  })

  it('a store that fails a few times: the rotated token is stored on a later try', async () => {
    const store = new FlakyStore('alice@example.com', 3)
    store.values.set('alice@example.com', fake.issueTokens().refresh_token)
    const exchange = await renewToken(ctx, entry(), upstream(), store, fast)
    assert.equal(exchange.notStored, undefined)
    assert.equal(store.values.get('alice@example.com'), exchange.refreshToken)
  })

  it('a store that keeps failing: the rotated token is held, used for the next exchange, and stored once the store works', async () => {
    const target = entry()
    const store = new FlakyStore('alice@example.com', 7)
    const original = fake.issueTokens().refresh_token
    store.values.set('alice@example.com', original)
    const options = {...fast, storeAttempts: 3, retryDelayMs: 1, backgroundAttempts: 0}
    const reusedBefore = fake.auth.tokenRequests.filter((r) => r.status === 401).length

    const first = await renewToken(ctx, target, upstream(), store, options)
    assert.equal(first.notStored?.code, 'GPTCONV_REFRESH_NOT_STORED')
    assert.match(
      warnings.join('\n'),
      /The new refresh token of "alice@example\.com" could not be stored \(No space left on device\); the old one is spent\./,
    )
    assert.ok(!warnings.join('\n').includes(first.refreshToken!))
    assert.equal(store.values.get('alice@example.com'), original, 'the store still has the spent one')
    assert.equal(holdsUnstoredToken(ctx, target), true)

    // 4 failures left: the second renewal presents the held token (not the spent one), and its own new token fails 3 more times
    const second = await renewToken(ctx, target, upstream(), store, options)
    assert.equal(fake.auth.tokenRequests.at(-1)!.fields.refresh_token, first.refreshToken)
    assert.equal(second.notStored?.code, 'GPTCONV_REFRESH_NOT_STORED')

    // 1 failure left: stored on the second try
    const third = await renewToken(ctx, target, upstream(), store, options)
    assert.equal(fake.auth.tokenRequests.at(-1)!.fields.refresh_token, second.refreshToken)
    assert.equal(third.notStored, undefined)
    assert.equal(store.values.get('alice@example.com'), third.refreshToken)
    assert.equal(holdsUnstoredToken(ctx, target), false)

    // and the stored one is the live one
    const fourth = await renewToken(ctx, target, upstream(), store, options)
    assert.equal(fake.auth.tokenRequests.at(-1)!.fields.refresh_token, third.refreshToken)
    assert.equal(fourth.notStored, undefined)
    assert.equal(
      fake.auth.tokenRequests.filter((r) => r.status === 401).length,
      reusedBefore,
      'no spent token was ever presented',
    )
  })

  it('the held token is stored in the background once the store works again', async () => {
    const target = entry()
    const store = new FlakyStore('alice@example.com', 4)
    store.values.set('alice@example.com', fake.issueTokens().refresh_token)
    const exchange = await renewToken(ctx, target, upstream(), store, {
      ...fast,
      storeAttempts: 2,
      retryDelayMs: 1,
      backgroundAttempts: 5,
    })
    assert.ok(exchange.notStored)
    for (let i = 0; i < 200 && holdsUnstoredToken(ctx, target); i++)
      await new Promise((resolve) => setTimeout(resolve, 10))
    assert.equal(holdsUnstoredToken(ctx, target), false)
    assert.equal(store.values.get('alice@example.com'), exchange.refreshToken)
  })

  it('a failed access-token cache is a warning: the renewal stands', async () => {
    const store = new FlakyStore('alice@example.com')
    const refuseAccess = store.set.bind(store)
    store.set = async (account, secret) => {
      if (account.endsWith('#access')) throw new Error('keychain locked')
      return refuseAccess(account, secret)
    }

    store.values.set('alice@example.com', fake.issueTokens().refresh_token)
    const exchange = await renewToken(ctx, entry(), upstream(), store, fast)
    assert.equal(store.values.get('alice@example.com'), exchange.refreshToken)
    assert.match(
      warnings.at(-1)!,
      /The new access token of "alice@example\.com" could not be cached in the secret store: keychain locked/,
    )
  })

  it("after waiting for another process's renewal, uses the access token it cached instead of exchanging again", async () => {
    const target = entry()
    const store = new FlakyStore('alice@example.com')
    const tokens = fake.issueTokens()
    store.values.set('alice@example.com', tokens.refresh_token)
    const before = fake.auth.exchangeCount('refresh_token')
    let waiting: Promise<unknown> | undefined
    await withTokenLock(ctx, target, 5000, async () => {
      waiting = renewToken(ctx, target, upstream(), store, fast)
      // "another process" renews while holding the lock: a new refresh token and access token in the store
      await new Promise((resolve) => setTimeout(resolve, 300))
      store.values.set('alice@example.com', fake.issueTokens().refresh_token)
      store.values.set('alice@example.com#access', tokens.access_token)
    })
    const exchange = (await waiting) as Awaited<ReturnType<typeof renewToken>>
    assert.equal(exchange.shared, true)
    assert.equal(exchange.accessToken, tokens.access_token)
    assert.equal(exchange.plan, 'pro')
    assert.equal(fake.auth.exchangeCount('refresh_token'), before)
  })

  it('gives up waiting for a lock held too long, as a transient failure', async () => {
    const target = entry()
    const store = new FlakyStore('alice@example.com')
    store.values.set('alice@example.com', fake.issueTokens().refresh_token)
    await withTokenLock(ctx, target, 5000, async () => {
      await assert.rejects(
        renewToken(ctx, target, upstream(), store, {lockWaitMs: 400}),
        (e: unknown) =>
          e instanceof RefreshFailedError &&
          /another gptconv process has been renewing "alice@example\.com" for over 0 s/.test(e.message),
      )
    })
  })
})
