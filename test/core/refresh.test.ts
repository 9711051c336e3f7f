import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import type {TokenEntry} from '../../src/core/config.js'
import {createContext} from '../../src/core/context.js'
import {renewToken} from '../../src/core/refresh.js'
import type {SecretStore} from '../../src/core/secrets/index.js'
import {tempHome} from '../helpers/cli.js'
import {FakeChatGPTWeb} from '../helpers/fake-chatgpt-web.js'

/** An in-memory store that records every write, and can refuse writes to chosen accounts. */
class RecordingStore implements SecretStore {
  readonly kind = 'file' as const
  readonly location = 'memory'
  readonly values = new Map<string, string>()
  readonly writes: string[] = []
  constructor(private readonly refuse: (account: string) => boolean = () => false) {}
  async get(account: string) {
    return this.values.get(account) ?? null
  }

  async set(account: string, secret: string) {
    if (this.refuse(account)) throw new Error(`disk full writing ${account}`)
    this.writes.push(account)
    this.values.set(account, secret)
  }

  async delete(account: string) {
    return this.values.delete(account)
  }
}

describe('renewToken: a rotated refresh token is kept before anything else', () => {
  const home = tempHome()
  const warnings: string[] = []
  const ctx = createContext({env: {GPTCONV_HOME: home.dir}, warn: (m) => warnings.push(m)})
  let web: FakeChatGPTWeb
  const entry: TokenEntry = {
    label: 'dana',
    kind: 'refresh-token',
    upstream: 'web',
    store: 'file',
    masked: 'rt_…',
    addedAt: '2026-01-01T00:00:00.000Z',
  }
  const upstream = () => ({
    name: 'web',
    protocol: 'chatgpt-web' as const,
    baseUrl: web.origin,
    authUrl: `${web.origin}/oauth/token`,
  })

  before(async () => {
    web = await FakeChatGPTWeb.start()
  })
  after(async () => {
    await web?.close()
    home.cleanup()
  })

  it('writes the rotated refresh token first, then the access token', async () => {
    const store = new RecordingStore()
    const original = web.issueRefreshToken('dana@example.com')
    store.values.set('dana', original)
    const exchange = await renewToken(ctx, entry, upstream(), store)
    assert.deepEqual(store.writes, ['dana', 'dana#access'])
    assert.ok(exchange.refreshToken && exchange.refreshToken !== original, 'the fake rotates')
    assert.equal(store.values.get('dana'), exchange.refreshToken)
    assert.equal(store.values.get('dana#access'), exchange.accessToken)
  })

  it('keeps the rotated refresh token when caching the access token fails (a warning, the renewal stands)', async () => {
    const store = new RecordingStore((account) => account.endsWith('#access'))
    store.values.set('dana', web.issueRefreshToken('dana@example.com'))
    const renewed = await renewToken(ctx, {...entry, addedAt: '2026-01-02T00:00:00.000Z'}, upstream(), store)
    assert.match(warnings.at(-1)!, /could not be cached in the secret store: disk full/)
    const kept = store.values.get('dana')!
    assert.equal(kept, renewed.refreshToken)
    assert.deepEqual(store.writes, ['dana'])
    // the kept token is the live one: the next exchange works with it
    const again = new RecordingStore()
    again.values.set('dana', kept)
    const exchange = await renewToken(ctx, {...entry, addedAt: '2026-01-03T00:00:00.000Z'}, upstream(), again)
    assert.ok(exchange.accessToken)
    assert.ok(web.exchanges.at(-1)!.ok)
  })

  it('shares one exchange between concurrent callers', async () => {
    const store = new RecordingStore()
    store.values.set('dana', web.issueRefreshToken('dana@example.com'))
    const before = web.exchanges.length
    const target = {...entry, addedAt: '2026-01-04T00:00:00.000Z'}
    const [a, b] = await Promise.all([
      renewToken(ctx, target, upstream(), store),
      renewToken(ctx, target, upstream(), store),
    ])
    assert.equal(a, b)
    assert.equal(
      web.exchanges.length - before,
      1,
      'one exchange: a second would present a refresh token the first had just rotated away',
    )
  })
})
