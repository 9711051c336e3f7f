import assert from 'node:assert/strict'
import {createServer} from 'node:net'
import {after, before, describe, it} from 'node:test'

import {LoginFailedError} from '../../src/core/codex-auth.js'
import {deviceLogin} from '../../src/core/codex-device.js'
import {type LoginEvent, authorizeUrl, browserLogin, newPkce} from '../../src/core/codex-login.js'
import {call} from '../helpers/fake-codex-client.js'
import {CODEX_CLIENT_ID, CODEX_SCOPE, FakeCodex, pkceChallenge} from '../helpers/fake-codex.js'

/** Play the browser: open the authorize URL, follow its redirect to the callback server (on 127.0.0.1, which localhost names). */
async function followAuthorize(url: string): Promise<{status: number; text: string; location: URL}> {
  const authorize = await call(url)
  assert.equal(authorize.status, 302, authorize.text)
  const location = new URL(authorize.headers.location)
  location.hostname = '127.0.0.1'
  const page = await call(location.href)
  return {status: page.status, text: page.text, location}
}

/** Start a browser login and hand back its first event (the authorize URL). */
function startBrowserLogin(fake: FakeCodex, options: {timeoutMs?: number; signal?: AbortSignal} = {}) {
  let resolveUrl!: (e: Extract<LoginEvent, {type: 'authorize'}>) => void
  const authorize = new Promise<Extract<LoginEvent, {type: 'authorize'}>>((resolve) => (resolveUrl = resolve))
  const events: LoginEvent[] = []
  const login = browserLogin({
    issuer: fake.authUrl,
    port: 0,
    timeoutMs: options.timeoutMs ?? 10_000,
    signal: options.signal,
    onEvent: (e) => (events.push(e), e.type === 'authorize' && resolveUrl(e)),
  })
  login.catch(() => {})
  return {login, authorize, events}
}

const code = (e: unknown) => (e instanceof LoginFailedError ? e.code : String(e))

describe('ChatGPT-plan login', {timeout: 60_000}, () => {
  let fake: FakeCodex

  before(async () => {
    fake = await FakeCodex.start({auth: {account: {email: 'bob@example.com', planType: 'team'}}})
  })
  after(async () => {
    await fake?.close()
  })

  it("builds Codex CLI's authorize URL", () => {
    assert.equal(
      authorizeUrl('https://auth.openai.com', {
        redirectUri: 'http://localhost:1455/auth/callback',
        challenge: 'CH',
        state: 'ST',
      }),
      'https://auth.openai.com/oauth/authorize?response_type=code&client_id=app_EMoamEEZ73f0CkXaXp7hrann&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback&scope=openid%20profile%20email%20offline_access%20api.connectors.read%20api.connectors.invoke&code_challenge=CH&code_challenge_method=S256&id_token_add_organizations=true&codex_cli_simplified_flow=true&state=ST&originator=codex_cli_rs',
    )
    const pkce = newPkce()
    assert.match(pkce.verifier, /^[\w-]{86}$/)
    assert.equal(pkce.challenge, pkceChallenge(pkce.verifier))
  })

  it('browser: authorize → redirect to the callback → code exchange → tokens; a foreign state is turned away first', async () => {
    const {login, authorize, events} = startBrowserLogin(fake)
    const {url, redirectUri} = await authorize
    assert.match(redirectUri, /^http:\/\/localhost:\d+\/auth\/callback$/)
    const port = new URL(redirectUri).port
    const foreign = await call(`http://127.0.0.1:${port}/auth/callback?code=ac_forged&state=not-the-state`)
    assert.equal(foreign.status, 400)
    assert.match(foreign.text, /not for the sign-in gptconv is waiting for/)
    assert.equal((await call(`http://127.0.0.1:${port}/favicon.ico`)).status, 404)

    const page = await followAuthorize(url)
    assert.equal(page.status, 200)
    assert.match(page.text, /Signed in to gptconv\. You can close this tab/)
    const tokens = await login
    assert.match(tokens.refreshToken, /^rt_/)
    assert.ok(tokens.idToken && tokens.accessToken)
    assert.equal(tokens.expiresIn, 864_000)

    const query = fake.auth.authorizeRequests.at(-1)!
    assert.deepEqual(
      {...query, code_challenge: '', state: ''},
      {
        response_type: 'code',
        client_id: CODEX_CLIENT_ID,
        redirect_uri: redirectUri,
        scope: CODEX_SCOPE,
        code_challenge: '',
        code_challenge_method: 'S256',
        id_token_add_organizations: 'true',
        codex_cli_simplified_flow: 'true',
        state: '',
        originator: 'codex_cli_rs',
      },
    )
    const exchange = fake.auth.tokenRequests.at(-1)!
    assert.deepEqual(
      [exchange.grantType, exchange.format, exchange.status, exchange.fields.redirect_uri],
      ['authorization_code', 'form', 200, redirectUri],
    )
    assert.equal(exchange.fields.code, page.location.searchParams.get('code'), 'the forged code was never exchanged')
    assert.deepEqual(
      events.map((e) => e.type),
      ['authorize', 'exchanging'],
    )
    // the callback server is gone
    await assert.rejects(call(`http://127.0.0.1:${port}/auth/callback`, {signal: AbortSignal.timeout(2000)}))
  })

  it('browser: a refusal in the browser ends the login', async () => {
    fake.auth.set({deny: 'access_denied'})
    try {
      const {login, authorize} = startBrowserLogin(fake)
      const page = await followAuthorize((await authorize).url)
      assert.equal(page.status, 400)
      await assert.rejects(login, (e: unknown) => {
        assert.equal(code(e), 'GPTCONV_LOGIN_DENIED')
        assert.equal((e as Error).message, 'The sign-in was refused (access_denied: The user denied the request.).')
        return true
      })
    } finally {
      fake.auth.set({deny: undefined})
    }
  })

  it("browser: a failed code exchange ends the login with the endpoint's answer", async () => {
    const {login, authorize} = startBrowserLogin(fake)
    fake.auth.tokenFault({type: 'status', status: 500})
    const page = await followAuthorize((await authorize).url)
    assert.equal(page.status, 502)
    await assert.rejects(
      login,
      /The sign-in could not be completed: the token endpoint answered 500: Internal server error/,
    )
  })

  it('browser: times out, and can be cancelled', async () => {
    const timedOut = startBrowserLogin(fake, {timeoutMs: 1500})
    const {redirectUri} = await timedOut.authorize
    await assert.rejects(
      timedOut.login,
      (e: unknown) =>
        code(e) === 'GPTCONV_LOGIN_TIMEOUT' && /^No sign-in arrived within 2 s\.$/.test((e as Error).message),
    )
    await assert.rejects(call(redirectUri.replace('localhost', '127.0.0.1'), {signal: AbortSignal.timeout(2000)}))

    const controller = new AbortController()
    const cancelled = startBrowserLogin(fake, {signal: controller.signal})
    await cancelled.authorize
    controller.abort()
    await assert.rejects(cancelled.login, (e: unknown) => code(e) === 'GPTCONV_LOGIN_CANCELLED')
  })

  it('browser: a callback port in use is a clear error', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    try {
      const port = (blocker.address() as {port: number}).port
      await assert.rejects(
        browserLogin({issuer: fake.authUrl, port, timeoutMs: 5000}),
        (e: unknown) =>
          code(e) === 'GPTCONV_LOGIN_PORT' &&
          new RegExp(`localhost port ${port}: .*EADDRINUSE`).test((e as Error).message),
      )
    } finally {
      blocker.close()
    }
  })

  it('device: shows the code, polls until approved, exchanges with the device callback', async () => {
    const events: LoginEvent[] = []
    const before = fake.auth.device.codes.length
    const tokens = await deviceLogin({
      issuer: fake.authUrl,
      pollIntervalMs: 20,
      onEvent(e) {
        events.push(e)
        if (e.type === 'device') setTimeout(() => fake.auth.approve(e.userCode), 100)
      },
    })
    const issued = fake.auth.device.codes[before]
    assert.deepEqual(events[0], {
      type: 'device',
      verificationUrl: `${fake.authUrl}/codex/device`,
      userCode: issued.userCode,
    })
    assert.ok(issued.polls >= 2, 'polled while pending')
    assert.match(tokens.refreshToken, /^rt_/)
    const exchange = fake.auth.tokenRequests.at(-1)!
    assert.deepEqual(
      [exchange.grantType, exchange.status, exchange.fields.redirect_uri],
      ['authorization_code', 200, `${fake.authUrl}/deviceauth/callback`],
    )
  })

  it('device: 404 also means pending; an unconfirmed code times out', async () => {
    fake.auth.set({devicePendingStatus: 404, deviceApproveAfterPolls: 2})
    try {
      assert.match((await deviceLogin({issuer: fake.authUrl, pollIntervalMs: 10})).refreshToken, /^rt_/)
    } finally {
      fake.auth.set({devicePendingStatus: undefined, deviceApproveAfterPolls: undefined})
    }

    await assert.rejects(
      deviceLogin({issuer: fake.authUrl, pollIntervalMs: 50, timeoutMs: 1000}),
      (e: unknown) =>
        code(e) === 'GPTCONV_LOGIN_TIMEOUT' && (e as Error).message === 'The code was not confirmed within 1 s.',
    )
  })
})
