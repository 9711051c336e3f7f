import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {describe, it} from 'node:test'

import {call, json, jwtPayload, type Obj} from './fake-codex-client.js'
import {
  AUTH_CLAIM,
  CODEX_CLIENT_ID,
  CODEX_SCOPE,
  codexAccount,
  FakeCodex,
  type FakeCodexOptions,
  newPkce,
  pkceChallenge,
  REUSED_MESSAGE,
} from './fake-codex.js'

const CALLBACK = 'http://localhost:1455/auth/callback'

async function withFake(options: FakeCodexOptions, fn: (fake: FakeCodex) => Promise<void>): Promise<void> {
  const fake = await FakeCodex.start(options)
  try {
    await fn(fake)
  } finally {
    await fake.close()
  }
}

/** The query Codex CLI sends to /oauth/authorize. */
function authorizeQuery(challenge: string, state: string, extra: Record<string, string | undefined> = {}): string {
  const q: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: CODEX_CLIENT_ID,
    redirect_uri: CALLBACK,
    scope: CODEX_SCOPE,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    id_token_add_organizations: 'true',
    codex_cli_simplified_flow: 'true',
    state,
    originator: 'codex_cli_rs',
    ...extra,
  }
  const kept = Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined)
  return new URLSearchParams(kept).toString()
}

const token = (fake: FakeCodex, fields: Record<string, string>) => call(`${fake.authUrl}/oauth/token`, {form: fields})
const refreshJson = (fake: FakeCodex, refreshToken: string, extra: Obj = {}) =>
  call(`${fake.authUrl}/oauth/token`, {
    json: {client_id: CODEX_CLIENT_ID, grant_type: 'refresh_token', refresh_token: refreshToken, ...extra},
  })

/** Play the browser: follow the printed authorize URL once and read the callback query. */
async function authorize(
  fake: FakeCodex,
  challenge: string,
  state: string,
  extra: Record<string, string | undefined> = {},
): Promise<URL> {
  const reply = await call(`${fake.authUrl}/oauth/authorize?${authorizeQuery(challenge, state, extra)}`)
  assert.equal(reply.status, 302, reply.text)
  return new URL(reply.headers.location)
}

async function codeGrant(fake: FakeCodex, code: string, verifier: string, redirectUri = CALLBACK) {
  return token(fake, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    client_id: CODEX_CLIENT_ID,
    code_verifier: verifier,
  })
}

describe('fake Codex auth server', {timeout: 30_000}, () => {
  it('PKCE login: authorize → 302 to the callback with code and state → code exchange → tokens the backend accepts', async () => {
    await withFake({auth: {account: {email: 'bob@example.com', planType: 'pro'}}}, async (fake) => {
      const pkce = newPkce()
      assert.equal(pkce.challenge, pkceChallenge(pkce.verifier))
      const state = randomBytes(32).toString('base64url')
      const callback = await authorize(fake, pkce.challenge, state)
      assert.equal(`${callback.origin}${callback.pathname}`, CALLBACK)
      assert.equal(callback.searchParams.get('state'), state)
      assert.equal(callback.searchParams.get('scope'), CODEX_SCOPE)
      const code = callback.searchParams.get('code') ?? ''
      assert.match(code, /^ac_/)
      assert.equal(fake.auth.authorizeRequests[0].originator, 'codex_cli_rs')

      const reply = await codeGrant(fake, code, pkce.verifier)
      assert.equal(reply.status, 200, reply.text)
      const tokens = json(reply)
      assert.deepEqual(Object.keys(tokens).sort(), ['access_token', 'expires_in', 'id_token', 'refresh_token'])
      assert.equal(tokens.expires_in, 864_000)
      const account = codexAccount({email: 'bob@example.com', planType: 'pro'})
      const id = jwtPayload(tokens.id_token as string)
      assert.equal(id.email, 'bob@example.com')
      assert.deepEqual(id[AUTH_CLAIM], {
        chatgpt_account_id: account.accountId,
        chatgpt_plan_type: 'pro',
        chatgpt_user_id: account.userId,
        user_id: account.userId,
        organizations: (id[AUTH_CLAIM] as Obj).organizations,
      })
      const access = jwtPayload(tokens.access_token as string)
      assert.deepEqual(access[AUTH_CLAIM], {
        chatgpt_account_id: account.accountId,
        chatgpt_plan_type: 'pro',
        chatgpt_user_id: account.userId,
        user_id: account.userId,
      })
      assert.equal((access.exp as number) - (access.iat as number), 864_000)

      const models = await call(`${fake.baseUrl}/models?client_version=0.160.0`, {
        headers: fake.authHeaders({access_token: tokens.access_token as string, account_id: account.accountId}),
      })
      assert.equal(models.status, 200, models.text)

      // An authorization code works once.
      const again = await codeGrant(fake, code, pkce.verifier)
      assert.equal(again.status, 400)
      assert.deepEqual(json(again), {
        error: {
          message: 'Invalid authorization code.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_grant',
        },
      })
      assert.equal(fake.auth.exchangeCount('authorization_code'), 2)
      assert.deepEqual(
        fake.auth.tokenRequests.map((r) => [r.grantType, r.format, r.status]),
        [
          ['authorization_code', 'form', 200],
          ['authorization_code', 'form', 400],
        ],
      )
    })
  })

  it('authorize refuses wrong parameters with a readable 400 (no redirect)', async () => {
    await withFake({auth: {redirectPorts: [1455, 1457]}}, async (fake) => {
      const {challenge} = newPkce()
      const cases: Array<[Record<string, string | undefined>, string]> = [
        [{response_type: 'token'}, 'response_type must be "code"'],
        [{client_id: 'app_other'}, 'client_id must be "app_EMoamEEZ73f0CkXaXp7hrann"'],
        [{code_challenge_method: 'plain'}, 'code_challenge_method must be "S256"'],
        [{codex_cli_simplified_flow: undefined}, 'codex_cli_simplified_flow must be "true", got null'],
        [{id_token_add_organizations: undefined}, 'id_token_add_organizations must be "true", got null'],
        [
          {redirect_uri: 'https://evil.example/auth/callback'},
          'redirect_uri "https://evil.example/auth/callback" is not registered',
        ],
        [
          {redirect_uri: 'http://localhost:9999/auth/callback'},
          'redirect_uri port 9999 is not registered (registered: 1455, 1457)',
        ],
        [{scope: 'openid profile email'}, 'scope must include offline_access'],
        [{code_challenge: 'short'}, 'code_challenge must be a base64url SHA-256 digest'],
        [{state: undefined}, 'state is required'],
        [{originator: undefined}, 'originator is required'],
      ]
      for (const [extra, message] of cases) {
        const reply = await call(`${fake.authUrl}/oauth/authorize?${authorizeQuery(challenge, 'st', extra)}`)
        assert.equal(reply.status, 400, JSON.stringify(extra))
        assert.equal(reply.headers.location, undefined)
        assert.ok(
          reply.text.startsWith(`Invalid authorization request: ${message}`),
          `${JSON.stringify(extra)}: ${reply.text}`,
        )
      }
      const ok = await authorize(fake, challenge, 'st', {redirect_uri: 'http://localhost:1457/auth/callback'})
      assert.equal(ok.port, '1457')
    })
  })

  it('a denying user: redirect with error=access_denied and the state, no code', async () => {
    await withFake({auth: {deny: 'access_denied'}}, async (fake) => {
      const callback = await authorize(fake, newPkce().challenge, 'st-1')
      assert.equal(callback.searchParams.get('error'), 'access_denied')
      assert.equal(callback.searchParams.get('error_description'), 'The user denied the request.')
      assert.equal(callback.searchParams.get('state'), 'st-1')
      assert.equal(callback.searchParams.get('code'), null)
    })
  })

  it('the code exchange checks the PKCE verifier, the redirect_uri and the client_id', async () => {
    await withFake({}, async (fake) => {
      const cases: Array<[Record<string, string>, string]> = [
        [{code_verifier: newPkce().verifier}, 'code_verifier does not match the code_challenge.'],
        [
          {redirect_uri: 'http://localhost:1457/auth/callback'},
          'redirect_uri does not match the authorization request.',
        ],
        [{client_id: 'app_other'}, 'client_id does not match the authorization request.'],
      ]
      for (const [override, message] of cases) {
        const pkce = newPkce()
        const code = (await authorize(fake, pkce.challenge, 's')).searchParams.get('code') ?? ''
        const reply = await token(fake, {
          grant_type: 'authorization_code',
          code,
          redirect_uri: CALLBACK,
          client_id: CODEX_CLIENT_ID,
          code_verifier: pkce.verifier,
          ...override,
        })
        assert.equal(reply.status, 400)
        assert.deepEqual(json(reply), {
          error: {message, type: 'invalid_request_error', param: null, code: 'invalid_grant'},
        })
        // The code was not spent by the failed attempt.
        assert.equal((await codeGrant(fake, code, pkce.verifier)).status, 200)
      }
      const missing = await token(fake, {
        grant_type: 'authorization_code',
        code: 'x',
        client_id: CODEX_CLIENT_ID,
        code_verifier: 'v',
      })
      assert.equal(missing.status, 400)
      assert.equal((json(missing).error as Obj).message, 'Missing required parameter: redirect_uri')
    })
  })

  it('refresh (JSON, as Codex sends it, and form-encoded) rotates; a spent token answers 401 refresh_token_reused', async () => {
    await withFake({}, async (fake) => {
      const first = fake.issueTokens()
      const r1 = await refreshJson(fake, first.refresh_token, {scope: 'openid profile email'})
      assert.equal(r1.status, 200, r1.text)
      const t1 = json(r1)
      assert.deepEqual(Object.keys(t1).sort(), ['access_token', 'expires_in', 'id_token', 'refresh_token'])
      assert.notEqual(t1.refresh_token, first.refresh_token)
      assert.notEqual(t1.access_token, first.access_token)

      const reused = await refreshJson(fake, first.refresh_token)
      assert.equal(reused.status, 401)
      assert.equal(
        reused.text,
        JSON.stringify({
          error: {message: REUSED_MESSAGE, type: 'invalid_request_error', param: null, code: 'refresh_token_reused'},
        }),
      )

      const r2 = await token(fake, {
        client_id: CODEX_CLIENT_ID,
        grant_type: 'refresh_token',
        refresh_token: t1.refresh_token as string,
      })
      assert.equal(r2.status, 200, r2.text)
      assert.equal(fake.auth.exchangeCount('refresh_token'), 3)
      assert.deepEqual(
        fake.auth.tokenRequests.map((r) => [r.format, r.status]),
        [
          ['json', 200],
          ['json', 401],
          ['form', 200],
        ],
      )

      const badScope = await refreshJson(fake, json(r2).refresh_token as string, {scope: 'openid admin'})
      assert.equal(badScope.status, 400)
      assert.equal((json(badScope).error as Obj).code, 'invalid_scope')
    })
  })

  it('dead refresh tokens: expired, invalidated, revoked at logout, never issued', async () => {
    await withFake({}, async (fake) => {
      const a = fake.issueTokens()
      const b = fake.issueTokens()
      const c = fake.issueTokens()
      fake.auth.killRefreshToken(a.refresh_token, 'expired')
      fake.auth.killRefreshToken(b.refresh_token, 'invalidated')
      const revoke = await call(`${fake.authUrl}/oauth/revoke`, {
        json: {token: c.refresh_token, token_type_hint: 'refresh_token', client_id: CODEX_CLIENT_ID},
      })
      assert.equal(revoke.status, 200)
      const expect = [
        [a.refresh_token, 'refresh_token_expired', 'Your refresh token has expired. Please try signing in again.'],
        [
          b.refresh_token,
          'refresh_token_invalidated',
          'Your refresh token has been invalidated. Please try signing in again.',
        ],
        [
          c.refresh_token,
          'refresh_token_invalidated',
          'Your refresh token has been invalidated. Please try signing in again.',
        ],
        ['rt_never_issued', 'invalid_grant', 'Invalid refresh token.'],
      ]
      for (const [rt, code, message] of expect) {
        const reply = await refreshJson(fake, rt)
        assert.equal(reply.status, 401)
        assert.deepEqual(json(reply), {error: {message, type: 'invalid_request_error', param: null, code}})
      }
    })
  })

  it('rotate: false answers without refresh_token and the old one keeps working', async () => {
    await withFake({auth: {rotate: false, accessTtlS: 60}}, async (fake) => {
      const t = fake.issueTokens()
      for (let i = 0; i < 2; i++) {
        const body = json(await refreshJson(fake, t.refresh_token))
        assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'id_token'])
        assert.equal(body.expires_in, 60)
      }
    })
  })

  it('two concurrent refreshes of one token: both counted on arrival, one wins, the other is told the token was reused', async () => {
    await withFake({auth: {tokenDelayMs: 100}}, async (fake) => {
      const t = fake.issueTokens()
      const replies = await Promise.all([refreshJson(fake, t.refresh_token), refreshJson(fake, t.refresh_token)])
      assert.deepEqual(replies.map((r) => r.status).sort(), [200, 401])
      assert.equal(fake.auth.exchangeCount('refresh_token'), 2)
      assert.equal(fake.auth.exchangeCount('authorization_code'), 0)
    })
  })

  it('token faults: 500, garbage, hang; then normal again', async () => {
    await withFake({}, async (fake) => {
      const t = fake.issueTokens()
      fake.auth.tokenFault({type: 'status', status: 500})
      fake.auth.tokenFault({type: 'garbage'})
      fake.auth.tokenFault({type: 'hang'})
      const failed = await refreshJson(fake, t.refresh_token)
      assert.equal(failed.status, 500)
      assert.equal((json(failed).error as Obj).code, 'server_error')
      const garbage = await refreshJson(fake, t.refresh_token)
      assert.equal(garbage.status, 200)
      assert.throws(() => JSON.parse(garbage.text), SyntaxError)
      const hung = call(`${fake.authUrl}/oauth/token`, {
        json: {client_id: CODEX_CLIENT_ID, grant_type: 'refresh_token', refresh_token: t.refresh_token},
        signal: AbortSignal.timeout(200),
      })
      await assert.rejects(hung)
      // Faults do not rotate: the token still works.
      assert.equal((await refreshJson(fake, t.refresh_token)).status, 200)
    })
  })
})

describe('fake Codex device-code login', {timeout: 30_000}, () => {
  const usercode = (fake: FakeCodex, clientId = CODEX_CLIENT_ID) =>
    call(`${fake.authUrl}/api/accounts/deviceauth/usercode`, {json: {client_id: clientId}})
  const poll = (fake: FakeCodex, body: Obj) => call(`${fake.authUrl}/api/accounts/deviceauth/token`, {json: body})

  it('user code (interval as a string), pending 403 polls, approve(), then the code exchanges with <issuer>/deviceauth/callback', async () => {
    await withFake({}, async (fake) => {
      const start = json(await usercode(fake))
      assert.deepEqual(Object.keys(start).sort(), ['device_auth_id', 'interval', 'user_code'])
      assert.equal(start.interval, '5')
      assert.match(start.user_code as string, /^[A-Z2-9]{4}-[A-Z2-9]{4}$/)
      const ids = {device_auth_id: start.device_auth_id, user_code: start.user_code}
      for (let i = 0; i < 2; i++) {
        const pending = await poll(fake, ids)
        assert.equal(pending.status, 403)
        assert.equal((json(pending).error as Obj).code, 'deviceauth_authorization_pending')
      }
      fake.auth.approve(start.user_code as string)
      const done = json(await poll(fake, ids))
      assert.deepEqual(Object.keys(done).sort(), ['authorization_code', 'code_challenge', 'code_verifier'])
      assert.equal(done.code_challenge, pkceChallenge(done.code_verifier as string))
      assert.equal(fake.auth.device.codes[0].polls, 3)

      const wrong = await codeGrant(fake, done.authorization_code as string, done.code_verifier as string)
      assert.equal(wrong.status, 400)
      const ok = await codeGrant(
        fake,
        done.authorization_code as string,
        done.code_verifier as string,
        `${fake.authUrl}/deviceauth/callback`,
      )
      assert.equal(ok.status, 200, ok.text)
      assert.equal(jwtPayload(json(ok).id_token as string).email, 'alice@example.com')
    })
  })

  it('404 while pending and approval after N polls, when configured; bad client_id and unknown ids are 400', async () => {
    await withFake({auth: {devicePendingStatus: 404, deviceApproveAfterPolls: 2}}, async (fake) => {
      assert.equal((await usercode(fake, 'app_other')).status, 400)
      const start = json(await usercode(fake))
      const ids = {device_auth_id: start.device_auth_id, user_code: start.user_code}
      const statuses = []
      for (let i = 0; i < 3; i++) statuses.push((await poll(fake, ids)).status)
      assert.deepEqual(statuses, [404, 404, 200])
      assert.equal((await poll(fake, {device_auth_id: start.device_auth_id, user_code: 'WRONG-CODE'})).status, 400)
      assert.throws(() => fake.auth.approve('NOPE-NOPE'), /no device code/)
    })
  })
})
