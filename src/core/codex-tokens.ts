import type {TokenEntry, UpstreamConfig} from './config.js'
import type {Context} from './context.js'
import {type CodexClaims, accountClaims, codexClaims} from './codex-auth.js'
import {ConflictError, GptconvError, NotFoundError, UsageError} from './errors.js'
import {own} from './own.js'
import {type TokenView, addToken, validateLabel} from './tokens.js'
import {CODEX_AUTH_URL, CODEX_BASE_URL, addUpstream} from './upstreams.js'

/**
 * Where a ChatGPT-plan login is kept: a `refresh-token` token on a codex upstream, its
 * refresh token in the secret store, the access token cached as `<label>#access`, and the
 * ChatGPT account id, plan and access-token expiry in the token's entry.
 */

/** The upstream `gptconv login` makes when there is no codex upstream yet. */
export const DEFAULT_CODEX_UPSTREAM = 'chatgpt'

export type CodexTarget = {name: string; upstream: UpstreamConfig; create: boolean}

/**
 * The codex upstream a login goes to: the one named; else the only one; else, when there is
 * none, a new `chatgpt` upstream with OpenAI's URLs (made once the login succeeded).
 */
export function codexTarget(ctx: Context, requested: string | undefined): CodexTarget {
  const {upstreams} = ctx.config.read()
  if (requested) {
    const upstream = own(upstreams, requested)
    if (!upstream)
      throw new NotFoundError('GPTCONV_UPSTREAM_NOT_FOUND', `No upstream named "${requested}".`, {
        hint: `Add it first: gptconv upstreams add ${requested} --protocol codex`,
      })
    if (upstream.protocol !== 'codex')
      throw new UsageError(
        `Upstream "${requested}" is ${upstream.protocol}; a ChatGPT-plan login needs a codex upstream.`,
        {
          hint: 'Pick a codex upstream (see `gptconv upstreams list`), or add one: gptconv upstreams add chatgpt --protocol codex',
        },
      )
    return {name: requested, upstream, create: false}
  }

  const codex = Object.entries(upstreams).filter(([, u]) => u.protocol === 'codex')
  if (codex.length === 1) return {name: codex[0][0], upstream: codex[0][1], create: false}
  if (codex.length > 1)
    throw new UsageError(
      `Several codex upstreams are configured (${codex.map(([n]) => n).join(', ')}); say which one.`,
      {hint: `Pass --upstream ${codex[0][0]}.`},
    )
  if (own(upstreams, DEFAULT_CODEX_UPSTREAM)) {
    throw new UsageError(
      `There is no codex upstream, and the name "${DEFAULT_CODEX_UPSTREAM}" is taken by a ${upstreams[DEFAULT_CODEX_UPSTREAM].protocol} upstream.`,
      {hint: 'Add one under another name: gptconv upstreams add plan --protocol codex, then pass --upstream plan.'},
    )
  }

  return {
    name: DEFAULT_CODEX_UPSTREAM,
    upstream: {protocol: 'codex', baseUrl: CODEX_BASE_URL, authUrl: CODEX_AUTH_URL},
    create: true,
  }
}

export type SaveLoginInput = {
  target: CodexTarget
  /** a login's tokens; an imported file may lack a usable access token (the first use renews one) */
  tokens: {refreshToken: string; accessToken?: string; idToken?: string; expiresIn?: number}
  /** default: the account's e-mail */
  label?: string
  force?: boolean
  /** claims the tokens lack (an imported file's account_id) */
  fallback?: {chatgptAccountId?: string}
}

export type SavedLogin = TokenView & {createdUpstream?: string}

export async function saveCodexLogin(ctx: Context, input: SaveLoginInput): Promise<SavedLogin> {
  const claims = accountClaims(input.tokens.accessToken, input.tokens.idToken)
  const expiresAt = expiryOf(input.tokens)
  const label = input.label ?? claims.email
  if (!label)
    throw new UsageError('The login does not say its e-mail, which names the token by default.', {
      hint: 'Name it: --label NAME',
    })
  if (input.label === undefined) {
    try {
      validateLabel(label)
    } catch {
      throw new UsageError(`The account's e-mail "${label}" cannot be a token label.`, {
        hint: 'Name the token yourself: --label NAME',
      })
    }
  }

  const relogin = sameLogin(own(ctx.config.read().tokens, label), input.target.name, claims)
  const previous = own(ctx.config.read().tokens, label)
  if (previous && !relogin && !input.force) {
    throw new ConflictError(
      'GPTCONV_TOKEN_EXISTS',
      `A token labelled "${label}" already exists${previous.account ? ` (${previous.account})` : ''}.`,
      {hint: 'Pass --label with another name, or --force to replace it.'},
    )
  }

  if (input.target.create)
    await addUpstream(ctx, {
      name: input.target.name,
      protocol: 'codex',
      baseUrl: input.target.upstream.baseUrl,
      authUrl: input.target.upstream.authUrl,
    })
  const chatgptAccountId = claims.chatgptAccountId ?? input.fallback?.chatgptAccountId
  // an access token that is about to expire is renewed at first use rather than cached
  const usable = expiresAt !== undefined && expiresAt.getTime() - 60_000 > Date.now()
  const view = await addToken(ctx, {
    label,
    kind: 'refresh-token',
    secret: input.tokens.refreshToken,
    upstream: input.target.name,
    protocol: 'codex',
    force: true,
    ...(usable && {accessToken: input.tokens.accessToken}),
    claims: {
      ...(usable && {expiresAt: expiresAt.toISOString()}),
      account: claims.email,
      chatgptAccountId,
      plan: claims.plan,
    },
  })
  return {...view, ...(input.target.create && {createdUpstream: input.target.name})}
}

function expiryOf(tokens: SaveLoginInput['tokens']): Date | undefined {
  if (!tokens.accessToken) return undefined
  try {
    return codexClaims({accessToken: tokens.accessToken, expiresIn: tokens.expiresIn}).expiresAt
  } catch {
    return undefined
  }
}

/** Signing in again to the same account on the same upstream replaces its token without --force. */
function sameLogin(
  previous: TokenEntry | undefined,
  upstream: string,
  claims: Omit<CodexClaims, 'expiresAt'>,
): boolean {
  if (!previous || previous.kind !== 'refresh-token' || previous.upstream !== upstream) return false
  return (
    (claims.chatgptAccountId !== undefined && previous.chatgptAccountId === claims.chatgptAccountId) ||
    (claims.email !== undefined && previous.account === claims.email)
  )
}

/** The secret of a login never goes into an error: only what kind of problem it is. */
export class CodexAuthFileError extends GptconvError {
  constructor(message: string, hint: string) {
    super('GPTCONV_CODEX_AUTH_FILE', message, {status: 400, exitCode: 2, hint})
  }
}
