import {setTimeout as sleep} from 'node:timers/promises'

import {CODEX_CLIENT_ID, LoginFailedError, exchangeCode, postToIssuer} from './codex-auth.js'
import {type LoginEvent, type LoginTokens, endSignal} from './codex-login.js'
import {upstreamMessage} from './upstream-check.js'

/**
 * Signing in on a machine without a browser, as `codex login --device-auth` does (openai/codex
 * codex-rs/login/src/device_code_auth.rs): ask `{issuer}/api/accounts/deviceauth/usercode` for
 * a code, show it with `{issuer}/codex/device` where the user enters it on any device, poll
 * `…/deviceauth/token` at the interval given (a string of seconds) — 403 and 404 mean "not
 * yet" — and exchange the authorization code it finally returns, with the PKCE verifier the
 * server made, for tokens (`redirect_uri = {issuer}/deviceauth/callback`).
 */

/** The code is valid 15 minutes. */
export const DEVICE_TIMEOUT_MS = 15 * 60_000

export type DeviceLoginOptions = {
  issuer: string
  timeoutMs?: number
  signal?: AbortSignal
  onEvent?: (event: LoginEvent) => void
  /** the pause between polls, instead of the server's interval (tests) */
  pollIntervalMs?: number
}

type UserCode = {deviceAuthId: string; userCode: string; intervalMs: number}

export async function deviceLogin(options: DeviceLoginOptions): Promise<LoginTokens> {
  const ended = endSignal(
    {timeoutMs: options.timeoutMs ?? DEVICE_TIMEOUT_MS, signal: options.signal},
    'The code was not confirmed',
  )
  try {
    return await Promise.race([ended.promise, flow(options, ended.signal)])
  } finally {
    ended.dispose()
  }
}

async function flow(options: DeviceLoginOptions, signal: AbortSignal): Promise<LoginTokens> {
  const code = await requestUserCode(options.issuer, signal)
  options.onEvent?.({type: 'device', verificationUrl: `${options.issuer}/codex/device`, userCode: code.userCode})
  const interval = options.pollIntervalMs ?? code.intervalMs
  for (;;) {
    const grant = await poll(options.issuer, code, signal)
    if (grant) {
      options.onEvent?.({type: 'exchanging'})
      return exchangeCode(
        options.issuer,
        {code: grant.code, verifier: grant.verifier, redirectUri: `${options.issuer}/deviceauth/callback`},
        {signal},
      )
    }

    await sleep(interval, undefined, {signal}).catch(() => {
      throw signal.reason
    })
  }
}

const post = (url: string, json: unknown, signal: AbortSignal, secrets: string[] = []) =>
  postToIssuer(url, {json}, {secrets, signal, timeoutMs: 30_000, onNetwork: (m) => new LoginFailedError(m)})

async function requestUserCode(issuer: string, signal: AbortSignal): Promise<UserCode> {
  const {status, text} = await post(`${issuer}/api/accounts/deviceauth/usercode`, {client_id: CODEX_CLIENT_ID}, signal)
  if (status === 404)
    throw new LoginFailedError(`Sign-in with a device code is not available at ${issuer} (404).`, {
      hint: 'Sign in with a browser: `gptconv login` (on a remote machine, forward port 1455 with ssh -L 1455:localhost:1455).',
    })
  if (status !== 200)
    throw new LoginFailedError(
      `Could not get a device code: ${issuer} answered ${status}: ${upstreamMessage(text, []) || 'no message'}.`,
    )
  let data: {device_auth_id?: unknown; user_code?: unknown; usercode?: unknown; interval?: unknown}
  try {
    data = JSON.parse(text) as typeof data
  } catch {
    throw new LoginFailedError('The device-code answer is not JSON.')
  }

  const userCode = typeof data.user_code === 'string' ? data.user_code : data.usercode
  if (typeof data.device_auth_id !== 'string' || typeof userCode !== 'string' || !userCode)
    throw new LoginFailedError('The device-code answer has no device_auth_id or user_code.')
  // the interval comes as a string ("5"); kept between 1 and 30 seconds
  const seconds = Number(data.interval)
  return {
    deviceAuthId: data.device_auth_id,
    userCode,
    intervalMs: (Number.isFinite(seconds) && seconds > 0 ? Math.min(30, Math.max(1, seconds)) : 5) * 1000,
  }
}

/** One poll: the grant once the user confirmed, undefined while pending. */
async function poll(
  issuer: string,
  code: UserCode,
  signal: AbortSignal,
): Promise<{code: string; verifier: string} | undefined> {
  const {status, text} = await post(
    `${issuer}/api/accounts/deviceauth/token`,
    {device_auth_id: code.deviceAuthId, user_code: code.userCode},
    signal,
  )
  if (status === 403 || status === 404) return undefined
  if (status !== 200)
    throw new LoginFailedError(
      `The device sign-in failed: ${issuer} answered ${status}: ${upstreamMessage(text, []) || 'no message'}.`,
    )
  let data: {authorization_code?: unknown; code_verifier?: unknown}
  try {
    data = JSON.parse(text) as typeof data
  } catch {
    throw new LoginFailedError('The device sign-in answer is not JSON.')
  }

  if (typeof data.authorization_code !== 'string' || typeof data.code_verifier !== 'string')
    throw new LoginFailedError('The device sign-in answer has no authorization_code or code_verifier.')
  return {code: data.authorization_code, verifier: data.code_verifier}
}
