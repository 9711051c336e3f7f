import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {afterEach, beforeEach, describe, it} from 'node:test'

import {type Context, createContext} from '../../src/core/context.js'
import {ConflictError, InvalidSecretError, NotFoundError, UsageError} from '../../src/core/errors.js'
import {writeRuntimeState} from '../../src/core/runtime-state.js'
import {storeOfKind} from '../../src/core/secrets/index.js'
import {addToken, listTokens, removeTokens, validateSecret} from '../../src/core/tokens.js'
import {addUpstream} from '../../src/core/upstreams.js'
import {tempHome} from '../helpers/cli.js'
import {accessToken} from '../helpers/jwt.js'

const KEY = 'sk-test-abcdefghijklmnopqrstuvwxyz0001'

describe('tokens use-cases (file store)', () => {
  let home: ReturnType<typeof tempHome>
  let ctx: Context
  let warnings: string[]
  beforeEach(() => {
    home = tempHome()
    warnings = []
    ctx = createContext({env: {GPTCONV_HOME: home.dir, GPTCONV_SECRET_STORE: 'file'}, warn: (m) => warnings.push(m)})
  })
  afterEach(() => home.cleanup())

  it('adds an api-key: secret in the store, masked index in the config', async () => {
    const view = await addToken(ctx, {label: 'work', kind: 'api-key', secret: KEY, concurrency: 2, grantedUsd: 120})
    assert.deepEqual(
      {
        label: view.label,
        kind: view.kind,
        upstream: view.upstream,
        state: view.state,
        secret: view.secret,
        store: view.store,
        concurrency: view.concurrency,
        grantedUsd: view.grantedUsd,
      },
      {
        label: 'work',
        kind: 'api-key',
        upstream: 'openai',
        state: 'ok',
        secret: 'sk-…0001',
        store: 'file',
        concurrency: 2,
        grantedUsd: 120,
      },
    )
    assert.equal(await storeOfKind('file', {env: ctx.env}).get('work'), KEY)
    assert.ok(!readFileSync(ctx.paths.config, 'utf8').includes(KEY), 'the config file never holds the secret')
    assert.equal(warnings.length, 1, 'a write to the file store warns')
  })

  it('refuses a duplicate label unless forced', async () => {
    await addToken(ctx, {label: 'work', kind: 'api-key', secret: KEY})
    await assert.rejects(addToken(ctx, {label: 'work', kind: 'api-key', secret: KEY}), ConflictError)
    const replaced = await addToken(ctx, {
      label: 'work',
      kind: 'api-key',
      secret: 'sk-test-replacement-key-0000000002',
      force: true,
    })
    assert.equal(replaced.secret, 'sk-…0002')
    assert.equal(await storeOfKind('file', {env: ctx.env}).get('work'), 'sk-test-replacement-key-0000000002')
  })

  it('reads expiry and account from an access token and needs a chatgpt-web upstream', async () => {
    await assert.rejects(
      addToken(ctx, {label: 'alice', kind: 'access-token', secret: accessToken()}),
      (e: unknown) => e instanceof UsageError && /none is configured/.test(e.message),
    )
    await addUpstream(ctx, {name: 'web', protocol: 'chatgpt-web', baseUrl: 'http://127.0.0.1:9/'})
    const view = await addToken(ctx, {
      label: 'alice',
      kind: 'access-token',
      secret: accessToken({email: 'alice@example.com'}),
    })
    assert.equal(view.upstream, 'web')
    assert.equal(view.account, 'alice@example.com')
    assert.ok(view.expiresAt && Date.parse(view.expiresAt) > Date.now())
    await assert.rejects(
      addToken(ctx, {label: 'k', kind: 'api-key', secret: KEY, upstream: 'web'}),
      /needs an upstream of protocol openai/,
    )
    await assert.rejects(addToken(ctx, {label: 'k', kind: 'api-key', secret: KEY, upstream: 'nope'}), NotFoundError)
  })

  it('validates secrets offline', () => {
    const warn = (m: string) => warnings.push(m)
    assert.throws(() => validateSecret('api-key', '', warn), /empty/)
    assert.throws(() => validateSecret('api-key', 'sk-a b', warn), /whitespace/)
    assert.throws(() => validateSecret('api-key', 'sk-a\u0007b', warn), /control characters/)
    assert.throws(() => validateSecret('access-token', 'sk-abc', warn), InvalidSecretError)
    assert.throws(() => validateSecret('access-token', accessToken({expiresInS: -60}), warn), /expired at/)
    validateSecret('api-key', accessToken(), warn)
    assert.match(warnings.at(-1)!, /--kind access-token/)
  })

  it('rejects labels that could collide with internal accounts', async () => {
    for (const label of ['a#access', '', 'has space', '-x', 'x'.repeat(65)]) {
      await assert.rejects(addToken(ctx, {label, kind: 'api-key', secret: KEY}), UsageError, label)
    }
  })

  it('merges the daemon runtime state, ignoring state of a replaced token', async () => {
    const work = await addToken(ctx, {label: 'work', kind: 'api-key', secret: KEY})
    const home2 = await addToken(ctx, {
      label: 'home',
      kind: 'api-key',
      secret: 'sk-test-abcdefghijklmnopqrstuvwxyz0002',
    })
    const until = new Date(Date.now() + 60_000).toISOString()
    await writeRuntimeState(ctx.paths.runtime, {
      tokens: {
        work: {
          addedAt: work.addedAt,
          disabled: {reason: 'upstream said 401: invalid_api_key', at: new Date().toISOString()},
          lastUsedAt: '2026-01-01T00:00:00.000Z',
        },
        home: {addedAt: home2.addedAt, coolingUntil: until},
        gone: {addedAt: 'x', coolingUntil: until},
      },
    })
    const [homeView, workView] = listTokens(ctx)
    assert.equal(workView.state, 'disabled')
    assert.equal(workView.reason, 'upstream said 401: invalid_api_key')
    assert.equal(workView.lastUsedAt, '2026-01-01T00:00:00.000Z')
    assert.equal(homeView.state, 'cooling-down')
    assert.equal(homeView.until, until)

    await addToken(ctx, {label: 'work', kind: 'api-key', secret: KEY, force: true})
    assert.equal(listTokens(ctx, ['work'])[0].state, 'ok', 'state of the replaced token no longer applies')
  })

  it('removes secrets and index entries, and reports unknown labels', async () => {
    await addToken(ctx, {label: 'work', kind: 'api-key', secret: KEY})
    await assert.rejects(removeTokens(ctx, ['work', 'nope']), NotFoundError)
    assert.equal(listTokens(ctx).length, 1, 'nothing removed when one label is unknown')
    assert.deepEqual(await removeTokens(ctx, ['work']), ['work'])
    assert.equal(listTokens(ctx).length, 0)
    assert.equal(await storeOfKind('file', {env: ctx.env}).get('work'), null)
  })
})
