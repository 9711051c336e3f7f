import {createHash, randomBytes, randomUUID} from 'node:crypto'

import {nowS} from './fake-codex-http.js'
import {fakeJwt} from './jwt.js'

/**
 * Accounts, PKCE and the tokens the fake Codex auth server issues. The JWTs are unsigned (a dummy
 * signature), as clients decode them and never verify them; their claims follow what Codex reads
 * (openai/codex codex-rs/login/src/token_data.rs): `email`, and under
 * `https://api.openai.com/auth` the `chatgpt_account_id`, `chatgpt_plan_type` and `chatgpt_user_id`.
 */

/** Codex CLI's OAuth client (openai/codex codex-rs/login/src/auth/manager.rs). */
export const CODEX_CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann'
/** The scope Codex asks for at /oauth/authorize (openai/codex codex-rs/login/src/server.rs). */
export const CODEX_SCOPE = 'openid profile email offline_access api.connectors.read api.connectors.invoke'
export const AUTH_CLAIM = 'https://api.openai.com/auth'
export const PROFILE_CLAIM = 'https://api.openai.com/profile'

export type PlanType = 'free' | 'go' | 'plus' | 'pro' | 'team' | 'business' | 'enterprise' | 'edu'

export type CodexAccount = {email: string; accountId: string; userId: string; planType: PlanType}

/** What a token exchange returns, plus the account id Codex stores next to the tokens. */
export type CodexTokens = {
  id_token: string
  access_token: string
  refresh_token: string
  expires_in: number
  account_id: string
}

export type AccessState = {account: CodexAccount; exp: number}

/** Why a refresh token no longer works: each has its own error code at /oauth/token. */
export type DeadReason = 'reused' | 'expired' | 'invalidated'

function hex(email: string, salt: string): string {
  return createHash('sha256').update(`${salt}:${email}`).digest('hex')
}

/** An account with defaults derived from the email (deterministic, UUID-shaped account id). */
export function codexAccount(partial: Partial<CodexAccount> = {}): CodexAccount {
  const email = partial.email ?? 'alice@example.com'
  const h = hex(email, 'account')
  return {
    email,
    accountId:
      partial.accountId ??
      `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`,
    userId: partial.userId ?? `user-${hex(email, 'user').slice(0, 24)}`,
    planType: partial.planType ?? 'plus',
  }
}

/** The PKCE challenge of a verifier: base64url(SHA-256(verifier)), no padding (RFC 7636 S256). */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url')
}

/** A verifier and its challenge as Codex makes them: 64 random bytes, base64url without padding (openai/codex codex-rs/login/src/pkce.rs). */
export function newPkce(): {verifier: string; challenge: string} {
  const verifier = randomBytes(64).toString('base64url')
  return {verifier, challenge: pkceChallenge(verifier)}
}

function authClaim(account: CodexAccount): Record<string, unknown> {
  return {
    chatgpt_account_id: account.accountId,
    chatgpt_plan_type: account.planType,
    chatgpt_user_id: account.userId,
    user_id: account.userId,
  }
}

export function idTokenFor(account: CodexAccount, issuer: string, clientId: string, ttlS = 3600): string {
  const iat = nowS()
  return fakeJwt({
    iss: issuer,
    aud: [clientId],
    sub: `auth0|${hex(account.email, 'sub').slice(0, 24)}`,
    email: account.email,
    email_verified: true,
    iat,
    auth_time: iat,
    exp: iat + ttlS,
    jti: randomUUID(),
    [AUTH_CLAIM]: {
      ...authClaim(account),
      organizations: [
        {id: `org-${hex(account.email, 'org').slice(0, 24)}`, is_default: true, role: 'owner', title: 'Personal'},
      ],
    },
  })
}

export function accessTokenFor(account: CodexAccount, issuer: string, clientId: string, exp: number): string {
  return fakeJwt({
    iss: issuer,
    aud: ['https://api.openai.com/v1'],
    client_id: clientId,
    sub: `auth0|${hex(account.email, 'sub').slice(0, 24)}`,
    iat: nowS(),
    nbf: nowS(),
    exp,
    jti: randomUUID(),
    scp: ['openid', 'profile', 'email', 'offline_access'],
    [AUTH_CLAIM]: authClaim(account),
    [PROFILE_CLAIM]: {email: account.email, email_verified: true},
  })
}

/** Which tokens are live: access tokens until `exp` (or revoked), refresh tokens until spent or killed. */
export class TokenRegistry {
  readonly #access = new Map<string, AccessState>()
  readonly #refresh = new Map<string, CodexAccount>()
  readonly #dead = new Map<string, DeadReason>()
  readonly #revoked = new Set<string>()

  addAccess(token: string, state: AccessState): void {
    this.#access.set(token, state)
  }

  addRefresh(account: CodexAccount): string {
    const token = `rt_${randomBytes(32).toString('base64url')}`
    this.#refresh.set(token, account)
    return token
  }

  /** The account of a live access token, or why it is not one. */
  access(token: string): {ok: true; account: CodexAccount} | {ok: false; why: 'unknown' | 'expired' | 'revoked'} {
    const state = this.#access.get(token)
    if (!state) return {ok: false, why: 'unknown'}
    if (this.#revoked.has(token)) return {ok: false, why: 'revoked'}
    if (state.exp <= nowS()) return {ok: false, why: 'expired'}
    return {ok: true, account: state.account}
  }

  revokeAccess(token: string): void {
    if (this.#access.has(token)) this.#revoked.add(token)
  }

  /** The account of a live refresh token, or why it is dead ('unknown' if never issued). */
  refresh(token: string): {ok: true; account: CodexAccount} | {ok: false; why: DeadReason | 'unknown'} {
    const dead = this.#dead.get(token)
    if (dead) return {ok: false, why: dead}
    const account = this.#refresh.get(token)
    return account ? {ok: true, account} : {ok: false, why: 'unknown'}
  }

  /** Kill a refresh token (a spent one stays 'reused' unless another reason is given explicitly). */
  kill(token: string, why: DeadReason): void {
    if (!this.#refresh.has(token) && !this.#dead.has(token))
      throw new Error('kill(): not a refresh token this fake issued')
    this.#refresh.delete(token)
    this.#dead.set(token, why)
  }
}
