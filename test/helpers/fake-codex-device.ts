import {randomBytes} from 'node:crypto'

import {authError, isRecord, type Json, Reply} from './fake-codex-http.js'
import {newPkce} from './fake-codex-tokens.js'

/**
 * The device-code login of the fake Codex auth server (openai/codex
 * codex-rs/login/src/device_code_auth.rs): `POST /api/accounts/deviceauth/usercode {client_id}`
 * gives `{device_auth_id, user_code, interval}` with the interval as a STRING ("5"); the client
 * polls `POST /api/accounts/deviceauth/token {device_auth_id, user_code}`, which answers 403 or 404
 * while the user has not approved, then 200 `{authorization_code, code_challenge, code_verifier}`:
 * the server made the PKCE pair, and the code exchanges at /oauth/token with
 * `redirect_uri = <issuer>/deviceauth/callback`.
 */

export type DeviceCode = {
  deviceAuthId: string
  userCode: string
  polls: number
  approved: boolean
  issued?: {authorization_code: string; code_challenge: string; code_verifier: string}
}

type DeviceDeps = {
  clientId: string
  callbackUri: string
  options: () => {devicePendingStatus?: 403 | 404; deviceApproveAfterPolls?: number}
  issueCode: (redirectUri: string, challenge: string) => string
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'

function userCode(): string {
  const bytes = randomBytes(8)
  const chars = Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length])
  return `${chars.slice(0, 4).join('')}-${chars.slice(4).join('')}`
}

function body(text: string): Json {
  try {
    const parsed: unknown = JSON.parse(text)
    if (isRecord(parsed)) return parsed
  } catch {
    // fall through
  }
  throw authError(400, 'invalid_request', 'The body must be a JSON object.')
}

export class DeviceCodes {
  /** Every device code handed out, in order. */
  readonly codes: DeviceCode[] = []
  readonly #deps: DeviceDeps

  constructor(deps: DeviceDeps) {
    this.#deps = deps
  }

  userCode(text: string): Json {
    const fields = body(text)
    if (fields.client_id !== this.#deps.clientId)
      throw authError(400, 'invalid_client', `Unknown client_id: ${JSON.stringify(fields.client_id ?? null)}`)
    const code: DeviceCode = {
      deviceAuthId: `deviceauth_${randomBytes(16).toString('hex')}`,
      userCode: userCode(),
      polls: 0,
      approved: false,
    }
    this.codes.push(code)
    return {device_auth_id: code.deviceAuthId, user_code: code.userCode, interval: '5'}
  }

  /** The user entered `userCode` on the verification page and approved. */
  approve(userCode: string): void {
    const code = this.codes.find((c) => c.userCode === userCode)
    if (!code) throw new Error(`approve(): no device code ${JSON.stringify(userCode)} was handed out`)
    code.approved = true
  }

  /** A poll: the three codes once approved; a pending or bad poll throws its error answer. */
  poll(text: string): Json {
    const fields = body(text)
    const code = this.codes.find((c) => c.deviceAuthId === fields.device_auth_id)
    // Made up: an unknown pair is a plain 400 here, so that a client polling with the wrong ids fails at once.
    if (!code || code.userCode !== fields.user_code)
      throw authError(400, 'invalid_request', 'Unknown device_auth_id / user_code pair.')
    code.polls += 1
    const after = this.#deps.options().deviceApproveAfterPolls
    if (after !== undefined && code.polls > after) code.approved = true
    if (!code.approved) {
      // The pending body is not documented (Codex reads only the status); this one is plausible.
      const status = this.#deps.options().devicePendingStatus ?? 403
      throw new Reply(status, {
        error: {
          message: 'Device authorization is pending. Please try again.',
          type: 'invalid_request_error',
          param: null,
          code: 'deviceauth_authorization_pending',
        },
      })
    }
    if (!code.issued) {
      const pkce = newPkce()
      code.issued = {
        authorization_code: this.#deps.issueCode(this.#deps.callbackUri, pkce.challenge),
        code_challenge: pkce.challenge,
        code_verifier: pkce.verifier,
      }
    }
    return {...code.issued}
  }
}
