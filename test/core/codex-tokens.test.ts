import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import {describeLimits, limitWindowName, planLimitsFromUsage, usageUrl} from '../../src/core/codex-limits.js'
import {defaultCodexAuthPath, parseAuthJson} from '../../src/core/codex-import.js'
import {codexTarget, saveCodexLogin} from '../../src/core/codex-tokens.js'
import {createContext} from '../../src/core/context.js'
import {UsageError} from '../../src/core/errors.js'
import {storeOfKind} from '../../src/core/secrets/index.js'
import {addUpstream} from '../../src/core/upstreams.js'
import {tempHome} from '../helpers/cli.js'
import {FakeCodex, codexAccount} from '../helpers/fake-codex.js'

describe('where a ChatGPT-plan login goes', {timeout: 30_000}, () => {
  const home = tempHome()
  const ctx = createContext({env: {GPTCONV_HOME: home.dir, GPTCONV_SECRET_STORE: 'file'}})
  let fake: FakeCodex

  before(async () => {
    fake = await FakeCodex.start({auth: {account: {email: 'fay@example.com', planType: 'business'}, accessTtlS: 30}})
  })
  after(async () => {
    await fake?.close()
    home.cleanup()
  })

  it('with no codex upstream: a new "chatgpt" upstream with OpenAI\'s URLs, made when the login is saved', async () => {
    const target = codexTarget(ctx, undefined)
    assert.deepEqual(target, {
      name: 'chatgpt',
      upstream: {
        protocol: 'codex',
        baseUrl: 'https://chatgpt.com/backend-api/codex',
        authUrl: 'https://auth.openai.com',
      },
      create: true,
    })
    const tokens = fake.issueTokens()
    const saved = await saveCodexLogin(ctx, {
      target,
      tokens: {
        refreshToken: tokens.refresh_token,
        accessToken: tokens.access_token,
        idToken: tokens.id_token,
        expiresIn: tokens.expires_in,
      },
    })
    assert.equal(saved.createdUpstream, 'chatgpt')
    assert.deepEqual(ctx.config.read().upstreams.chatgpt, target.upstream)
    const entry = ctx.config.read().tokens['fay@example.com']
    assert.deepEqual(
      [entry.kind, entry.upstream, entry.chatgptAccountId, entry.plan, entry.account],
      ['refresh-token', 'chatgpt', codexAccount({email: 'fay@example.com'}).accountId, 'business', 'fay@example.com'],
    )
    // a 30-second access token is not worth caching: the first use renews one
    assert.equal(entry.expiresAt, undefined)
    assert.equal(await storeOfKind('file', {env: ctx.env}).get('fay@example.com#access'), null)
    assert.deepEqual(codexTarget(ctx, undefined), {name: 'chatgpt', upstream: target.upstream, create: false})
  })

  it('several codex upstreams need --upstream; a taken default name is said', async () => {
    await addUpstream(ctx, {name: 'second', protocol: 'codex'})
    assert.throws(
      () => codexTarget(ctx, undefined),
      (e: unknown) =>
        e instanceof UsageError &&
        e.message === 'Several codex upstreams are configured (chatgpt, second); say which one.',
    )
    assert.equal(codexTarget(ctx, 'second').name, 'second')
    const other = createContext({env: {GPTCONV_HOME: `${home.dir}/other`}})
    await addUpstream(other, {name: 'chatgpt', protocol: 'chatgpt-web', baseUrl: 'http://127.0.0.1:9'})
    assert.throws(() => codexTarget(other, undefined), /the name "chatgpt" is taken by a chatgpt-web upstream/)
  })

  it('reads auth.json as Codex CLI writes it', () => {
    assert.equal(defaultCodexAuthPath({HOME: '/home/u'}), '/home/u/.codex/auth.json')
    assert.equal(defaultCodexAuthPath({HOME: '/home/u', CODEX_HOME: '/srv/codex'}), '/srv/codex/auth.json')
    assert.deepEqual(
      parseAuthJson(
        {
          auth_mode: 'chatgpt',
          OPENAI_API_KEY: null,
          tokens: {id_token: 'i', access_token: 'a', refresh_token: 'r', account_id: 'acc'},
        },
        'f',
      ),
      {refreshToken: 'r', accessToken: 'a', idToken: 'i', accountId: 'acc'},
    )
    // no auth_mode and no key: a ChatGPT login
    assert.deepEqual(parseAuthJson({tokens: {refresh_token: 'r'}}, 'f'), {refreshToken: 'r'})
    assert.throws(() => parseAuthJson({auth_mode: 'apikey', OPENAI_API_KEY: 'sk-x'}, 'f'), /f holds an API-key login/)
  })

  it('plan limits: window names, the usage URL, the usage document, the words', () => {
    assert.deepEqual(
      [18_000, 604_800, 5400, 86_400].map((s) => limitWindowName(s)),
      ['5h', '7d', '90m', '1d'],
    )
    assert.equal(usageUrl('https://chatgpt.com/backend-api/codex'), 'https://chatgpt.com/backend-api/wham/usage')
    assert.equal(usageUrl('https://chatgpt.com/backend-api/codex/'), 'https://chatgpt.com/backend-api/wham/usage')
    const now = Date.UTC(2026, 9, 1, 12)
    const doc = {
      plan_type: 'plus',
      rate_limit: {
        primary_window: {used_percent: 42, limit_window_seconds: 18_000, reset_after_seconds: 3600},
        secondary_window: {used_percent: 84, limit_window_seconds: 604_800, reset_at: 1_790_100_000},
      },
    }
    assert.deepEqual(planLimitsFromUsage(doc, now), {
      plan: 'plus',
      windows: [
        {window: '5h', usedPercent: 42, resetsAt: '2026-10-01T13:00:00.000Z'},
        {window: '7d', usedPercent: 84, resetsAt: new Date(1_790_100_000_000).toISOString()},
      ],
      seenAt: '2026-10-01T12:00:00.000Z',
    })
    assert.deepEqual(planLimitsFromUsage({rate_limit: null}, now), {windows: [], seenAt: '2026-10-01T12:00:00.000Z'})
    const local = new Date(now + 3_600_000)
    const clock = `${String(local.getHours()).padStart(2, '0')}:${String(local.getMinutes()).padStart(2, '0')}`
    assert.equal(
      describeLimits(
        [
          {window: '5h', usedPercent: 41.6, resetsAt: local.toISOString()},
          {window: '7d', usedPercent: 84, resetsAt: null},
        ],
        now,
      ),
      `5h: 42% used, resets ${clock}; 7d: 84% used, reset unknown`,
    )
  })
})
