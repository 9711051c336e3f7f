import type {IncomingMessage} from 'node:http'

import type {Json} from './fake-codex-http.js'
import {CODEX_CLIENT_ID, CODEX_SCOPE, type DeadReason} from './fake-codex-tokens.js'

/** Pure request checks of the fake Codex auth server. */

/** One `POST /oauth/token`, as received (fields include secrets: tests only). */
export type TokenRequest = {
  grantType: string
  format: 'json' | 'form' | 'other'
  fields: Json
  status: number
  at: number
}

export const ALLOWED_SCOPES = new Set(CODEX_SCOPE.split(' '))

export const REUSED_MESSAGE =
  'Your refresh token has already been used to generate a new access token. Please try signing in again.'

/** The 401 of a dead refresh token. Only the reuse message is verbatim (seen in Codex logs); the other two texts are written to match it. */
export const DEAD: Record<DeadReason, string> = {
  reused: REUSED_MESSAGE,
  expired: 'Your refresh token has expired. Please try signing in again.',
  invalidated: 'Your refresh token has been invalidated. Please try signing in again.',
}

export const str = (v: unknown): string => (typeof v === 'string' ? v : '')

/** Fields of a form-urlencoded (the code exchange) or JSON (Codex's refresh) body. */
export function fieldsOf(req: IncomingMessage, text: string): {fields: Json; format: TokenRequest['format']} {
  if (
    String(req.headers['content-type'] ?? '')
      .toLowerCase()
      .includes('application/x-www-form-urlencoded')
  ) {
    return {fields: Object.fromEntries(new URLSearchParams(text)), format: 'form'}
  }
  try {
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return {fields: parsed as Json, format: 'json'}
  } catch {
    // neither form nor JSON: no fields
  }
  return {fields: {}, format: 'other'}
}

/**
 * What is wrong with an authorize query, if anything: every parameter Codex sends (openai/codex
 * codex-rs/login/src/server.rs `build_authorize_url`) must be there with Codex's values; the
 * callback must be a plain http loopback `/auth/callback`, on one of `ports` when given.
 */
export function authorizeProblem(q: Record<string, string>, ports: number[] | undefined): string | undefined {
  const expect: Array<[string, string]> = [
    ['response_type', 'code'],
    ['client_id', CODEX_CLIENT_ID],
    ['code_challenge_method', 'S256'],
    ['id_token_add_organizations', 'true'],
    ['codex_cli_simplified_flow', 'true'],
  ]
  for (const [name, value] of expect)
    if (q[name] !== value) return `${name} must be ${JSON.stringify(value)}, got ${JSON.stringify(q[name] ?? null)}`
  const redirect = URL.canParse(q.redirect_uri ?? '') ? new URL(q.redirect_uri) : undefined
  if (
    !redirect ||
    redirect.protocol !== 'http:' ||
    !['localhost', '127.0.0.1'].includes(redirect.hostname) ||
    redirect.pathname !== '/auth/callback' ||
    redirect.search !== ''
  ) {
    return `redirect_uri ${JSON.stringify(q.redirect_uri ?? null)} is not registered (expected http://localhost:<port>/auth/callback)`
  }
  if (ports && !ports.includes(Number(redirect.port)))
    return `redirect_uri port ${redirect.port} is not registered (registered: ${ports.join(', ')})`
  const scopes = (q.scope ?? '').split(' ')
  for (const needed of ['openid', 'profile', 'email', 'offline_access'])
    if (!scopes.includes(needed)) return `scope must include ${needed}, got ${JSON.stringify(q.scope ?? null)}`
  if (!/^[A-Za-z0-9_-]{43}$/.test(q.code_challenge ?? ''))
    return 'code_challenge must be a base64url SHA-256 digest without padding (43 characters)'
  if (!q.state) return 'state is required'
  if (!q.originator) return 'originator is required'
  return undefined
}
