import {InvalidSecretError} from './errors.js'

export type JwtPayload = Record<string, unknown>

/** Decode (not verify) a JWT's payload; undefined when `token` is not a JWT. */
export function decodeJwt(token: string): JwtPayload | undefined {
  const parts = token.split('.')
  if (parts.length !== 3 || parts.some((p) => !/^[\w-]*$/.test(p))) return undefined
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload)
      ? (payload as JwtPayload)
      : undefined
  } catch {
    return undefined
  }
}

const record = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {}
const text = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined)

/**
 * ChatGPT access tokens carry `exp` (seconds) and the account in OpenAI's namespaced
 * claims (docs/protocols.md §5.3): the profile email, else the ChatGPT account/user id, else `sub`.
 */
export type AccessTokenInfo = {
  expiresAt: Date
  /** who it belongs to, as shown to people: the e-mail, else an account or user id */
  account?: string
  /** the ChatGPT account (workspace) id, which the ChatGPT backends want as a header */
  chatgptAccountId?: string
  /** free, plus, pro, team… */
  planType?: string
}

export function accessTokenInfo(token: string): AccessTokenInfo {
  const payload = decodeJwt(token)
  if (!payload) {
    throw new InvalidSecretError(
      'This is not an access token: a ChatGPT access token is a JWT (three base64url parts separated by dots, starting with "eyJ").',
      {
        hint: 'Copy the whole "accessToken" value from https://chatgpt.com/api/auth/session, or use --kind refresh-token for a refresh token.',
      },
    )
  }

  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) {
    throw new InvalidSecretError('The access token has no numeric "exp" claim, so its expiry cannot be known.', {
      hint: 'Use the access token issued by ChatGPT, unchanged.',
    })
  }

  const auth = record(payload['https://api.openai.com/auth'])
  const profile = record(payload['https://api.openai.com/profile'])
  const account =
    text(profile.email) ??
    text(payload.email) ??
    text(auth.chatgpt_account_id) ??
    text(auth.user_id) ??
    text(payload.sub)
  const chatgptAccountId = text(auth.chatgpt_account_id)
  const planType = text(auth.chatgpt_plan_type)
  return {
    expiresAt: new Date(payload.exp * 1000),
    account,
    ...(chatgptAccountId && {chatgptAccountId}),
    ...(planType && {planType}),
  }
}
