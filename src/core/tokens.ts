import {bindingFor, originBlock, recordedBinding} from './binding.js'
import type {Protocol, Settings, TokenEntry, TokenKind, UpstreamConfig} from './config.js'
import type {Context} from './context.js'
import {ConflictError, InvalidSecretError, KeychainUnavailableError, NotFoundError, UsageError} from './errors.js'
import {accessTokenInfo, decodeJwt} from './jwt.js'
import {mask} from './mask.js'
import {type PlanLimits, type TokenRuntime, readRuntimeState} from './runtime-state.js'
import type {SecretStore} from './secrets/index.js'
import {accessAccount} from './secrets/types.js'
import {own} from './own.js'

// The keychain binding and undici load only when a command needs them: `tokens list` stays fast.
const secrets = () => import('./secrets/index.js')

export type TokenState = 'ok' | 'expired' | 'cooling-down' | 'disabled' | 'blocked'

/** What `tokens list --json` prints per token (docs/reference.md §2.1); `secret` is the masked form. */
export type TokenView = {
  label: string
  kind: TokenKind
  upstream: string
  state: TokenState
  until?: string
  reason?: string
  expiresAt: string | null
  lastUsedAt: string | null
  secret: string
  store: TokenEntry['store']
  account?: string
  /** ChatGPT-plan tokens: the ChatGPT account id, masked (it identifies the account; the config file has it whole) */
  chatgptAccount?: string
  /** ChatGPT-plan tokens: the plan (free, plus, pro, team…), as the daemon last saw it or as the token said */
  plan?: string
  /** ChatGPT-plan tokens: the plan's usage windows as the daemon last saw them, and when */
  limits?: PlanLimits['windows']
  limitsSeenAt?: string
  models?: string[]
  concurrency?: number
  rpm?: number
  grantedUsd?: number
  addedAt: string
}

export type AddTokenInput = {
  label: string
  kind: TokenKind
  secret: string
  upstream?: string
  models?: string[]
  concurrency?: number
  rpm?: number
  grantedUsd?: number
  force?: boolean
  /** an access token that came with the secret (a login's), cached as `<label>#access` */
  accessToken?: string
  /** what is known of the secret's account beyond what it shows itself (a login's claims) */
  claims?: Pick<TokenEntry, 'expiresAt' | 'account' | 'chatgptAccountId' | 'plan'>
  /** the protocol of the upstream to pick when none is named (default: openai for api-keys, chatgpt-web for ChatGPT tokens) */
  protocol?: Protocol
}

const LABEL = /^[A-Za-z0-9][\w.@+-]{0,63}$/

export function validateLabel(label: string): void {
  if (!LABEL.test(label)) {
    throw new UsageError(`Invalid label "${label}".`, {
      hint: 'Use 1-64 letters, digits and . _ @ + - (starting with a letter or digit), e.g. "work" or "alice@example.com".',
    })
  }
}

/** Offline checks of a secret; returns what can be read from it. Never echoes the secret. */
export function validateSecret(
  kind: TokenKind,
  secret: string,
  warn: (m: string) => void,
): {expiresAt?: Date; account?: string; chatgptAccountId?: string; planType?: string} {
  if (!secret)
    throw new InvalidSecretError('The secret is empty.', {
      hint: 'Pipe it in (printf %s "$KEY" | gptconv tokens add …), type it at the prompt, or use --from-env VAR.',
    })
  if (/\s/.test(secret))
    throw new InvalidSecretError('The secret contains whitespace or a line break; a token is one word.', {
      hint: 'Pass exactly one secret, e.g. printf %s "$KEY" | gptconv tokens add …',
    })
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001F\u007F]/.test(secret)) throw new InvalidSecretError('The secret contains control characters.')

  if (kind === 'access-token') {
    const info = accessTokenInfo(secret)
    if (info.expiresAt.getTime() <= Date.now()) {
      throw new InvalidSecretError(`This access token expired at ${info.expiresAt.toISOString()}.`, {
        hint: 'Get a fresh one from https://chatgpt.com/api/auth/session, or add a refresh token (--kind refresh-token) so gptconv renews access by itself.',
      })
    }

    return info
  }

  if (decodeJwt(secret))
    warn(
      `This ${kind} looks like a JWT, which is what ChatGPT access tokens are; if it is one, add it with --kind access-token.`,
    )
  return {}
}

/** ChatGPT tokens serve a ChatGPT-web proxy or a ChatGPT plan through the Codex backend. */
const PROTOCOLS_OF: Record<TokenKind, Protocol[]> = {
  'api-key': ['openai'],
  'access-token': ['chatgpt-web', 'codex'],
  'refresh-token': ['chatgpt-web', 'codex'],
}

function upstreamFor(settings: Settings, kind: TokenKind, requested: string | undefined, preferred?: Protocol): string {
  const allowed = PROTOCOLS_OF[kind]
  const protocol = preferred && allowed.includes(preferred) ? preferred : allowed[0]
  if (requested) {
    const upstream = own(settings.upstreams, requested)
    if (!upstream)
      throw new NotFoundError('GPTCONV_UPSTREAM_NOT_FOUND', `No upstream named "${requested}".`, {
        hint: `See \`gptconv upstreams list\`, or add it with \`gptconv upstreams add ${requested} --protocol ${protocol}${protocol === 'codex' ? '' : ' --base-url URL'}\`.`,
      })
    const wanted = preferred ? [protocol] : allowed
    if (!wanted.includes(upstream.protocol))
      throw new UsageError(
        `A ${kind} needs an upstream of protocol ${wanted.join(' or ')}, and "${requested}" is ${upstream.protocol}.`,
        {hint: 'Pick another --upstream.'},
      )
    return requested
  }

  const matching = Object.entries(settings.upstreams)
    .filter(([, u]) => u.protocol === protocol)
    .map(([name]) => name)
  if (protocol === 'openai' && matching.includes('openai')) return 'openai'
  if (matching.length === 1) return matching[0]
  if (matching.length === 0) {
    throw new UsageError(`A ${kind} needs an upstream of protocol ${protocol}, and none is configured.`, {
      hint:
        protocol === 'codex'
          ? 'Add one first: `gptconv upstreams add chatgpt --protocol codex`, then pass --upstream chatgpt.'
          : `Add one first, e.g. \`gptconv upstreams add web --protocol ${protocol} --base-url https://your-proxy.example\`, then pass --upstream web.`,
    })
  }

  throw new UsageError(`Several ${protocol} upstreams are configured (${matching.join(', ')}); say which one.`, {
    hint: `Pass --upstream ${matching[0]}.`,
  })
}

export async function addToken(ctx: Context, input: AddTokenInput): Promise<TokenView> {
  validateLabel(input.label)
  const info = validateSecret(input.kind, input.secret, ctx.warn)
  const settings = ctx.config.read()
  const upstream = upstreamFor(settings, input.kind, input.upstream, input.protocol)
  const previous = own(settings.tokens, input.label)
  if (previous && !input.force) {
    throw new ConflictError('GPTCONV_TOKEN_EXISTS', `A token labelled "${input.label}" already exists.`, {
      hint: 'Pass --force to replace it, or choose another label.',
    })
  }

  // a locked keychain must not push new secrets into a plain file beside the ones kept there
  // A forced store (GPTCONV_SECRET_STORE) is checked by openSecretStore with its own message.
  if (!ctx.env.GPTCONV_SECRET_STORE) await requireUsableStores(ctx, settings)
  // The secret goes in first: a crash between the two steps leaves an unused secret,
  // never an index entry without its secret.
  const store = await (await secrets()).openSecretStore({env: ctx.env, warn: ctx.warn})
  await refuseKnownSecret(ctx, settings, input, store)
  await store.set(input.label, input.secret)
  const entry: TokenEntry = {
    label: input.label,
    kind: input.kind,
    upstream,
    store: store.kind,
    masked: mask(input.secret),
    addedAt: new Date().toISOString(),
    ...(info.expiresAt && {expiresAt: info.expiresAt.toISOString()}),
    ...(info.account && {account: info.account}),
    ...(info.chatgptAccountId && {chatgptAccountId: info.chatgptAccountId}),
    ...(info.planType && {plan: info.planType}),
    ...Object.fromEntries(Object.entries(input.claims ?? {}).filter(([, v]) => v !== undefined)),
    ...(input.models?.length && {models: input.models}),
    ...(input.concurrency !== undefined && {concurrency: input.concurrency}),
    ...(input.rpm !== undefined && {rpm: input.rpm}),
    ...(input.grantedUsd !== undefined && {grantedUsd: input.grantedUsd}),
    // bound to where its upstream points now: pointing the upstream elsewhere blocks it (core/binding.ts)
    ...bindingFor(input.kind, own(settings.upstreams, upstream)!),
  }
  await ctx.config.update((s) => {
    s.tokens[entry.label] = entry
  })

  if (previous) await forgetSecrets(ctx, previous, store)
  // after forgetting the replaced token's cache, which has the same account name
  if (input.accessToken) await store.set(accessAccount(entry.label), input.accessToken)
  return viewOf(entry, own(readRuntimeState(ctx.paths.runtime).tokens, entry.label), own(settings.upstreams, upstream))
}

/** What clientKey() makes every local client key start with; no upstream issues such keys. */
const CLIENT_KEY_PREFIX = 'sk-gptconv-'

/**
 * Refuse what is no upstream credential or is stored already: gptconv's own client key —
 * after `eval "$(gptconv env)"`, OPENAI_API_KEY holds it, so `printf %s "$OPENAI_API_KEY" |
 * gptconv tokens add …` would store it — and a secret kept under another label (the pool
 * would count one key twice). Candidates are found by their masked form, then compared.
 */
async function refuseKnownSecret(
  ctx: Context,
  settings: Settings,
  input: AddTokenInput,
  store: SecretStore,
): Promise<void> {
  const {CLIENT_KEY_ACCOUNT, storeOfKind} = await secrets()
  const read = (s: SecretStore, account: string) => s.get(account).catch(() => null)
  const own = [
    await read(store, CLIENT_KEY_ACCOUNT),
    store.kind === 'keychain' ? await read(storeOfKind('file', {env: ctx.env}), CLIENT_KEY_ACCOUNT) : null,
  ]
  if (input.secret.startsWith(CLIENT_KEY_PREFIX) || own.includes(input.secret)) {
    throw new InvalidSecretError(
      "This is gptconv's own local client key (what `gptconv env` puts in OPENAI_API_KEY), not a key for an upstream.",
      {
        hint: 'Add the key your provider gave you. After `eval "$(gptconv env)"`, OPENAI_API_KEY holds the local key: pipe the real one from where you keep it, e.g. printf %s "$REAL_KEY" | gptconv tokens add LABEL --kind api-key',
      },
    )
  }

  const masked = mask(input.secret)
  for (const entry of Object.values(settings.tokens)) {
    if (entry.label === input.label || entry.masked !== masked) continue
    if ((await read(storeOfKind(entry.store, {env: ctx.env}), entry.label)) !== input.secret) continue
    throw new ConflictError('GPTCONV_SECRET_EXISTS', `This secret is already stored as "${entry.label}".`, {
      hint: `Change that token with \`gptconv tokens add ${entry.label} --kind ${entry.kind} --force\`, or remove it first with \`gptconv tokens remove ${entry.label}\`.`,
    })
  }
}

/** Drop what a replaced token left behind: its cached access token, and its secret if it lived in another store. */
async function forgetSecrets(ctx: Context, previous: TokenEntry, current: SecretStore): Promise<void> {
  const old = (await secrets()).storeOfKind(previous.store, {env: ctx.env})
  await old.delete(accessAccount(previous.label))
  if (old.kind !== current.kind) await old.delete(previous.label)
}

export function listTokens(ctx: Context, labels: string[] = []): TokenView[] {
  const {tokens, upstreams} = ctx.config.read()
  const runtime = readRuntimeState(ctx.paths.runtime).tokens
  return entriesFor(tokens, labels).map((entry) =>
    viewOf(entry, own(runtime, entry.label), own(upstreams, entry.upstream)),
  )
}

export function entriesFor(tokens: Record<string, TokenEntry>, labels: string[]): TokenEntry[] {
  if (labels.length === 0) return Object.values(tokens).sort((a, b) => a.label.localeCompare(b.label))
  const unknown = labels.filter((l) => own(tokens, l) === undefined)
  if (unknown.length > 0) {
    throw new NotFoundError(
      'GPTCONV_TOKEN_NOT_FOUND',
      `No token labelled ${unknown.map((l) => `"${l}"`).join(', ')}.`,
      {hint: 'See `gptconv tokens list` for the labels.'},
    )
  }

  return [...new Set(labels)].map((l) => tokens[l] as TokenEntry)
}

function viewOf(
  entry: TokenEntry,
  runtime: TokenRuntime | undefined,
  upstream: UpstreamConfig | undefined,
  now = Date.now(),
): TokenView {
  const current = runtime && runtime.addedAt === entry.addedAt ? runtime : undefined
  const block = upstream && originBlock(entry, upstream, recordedBinding(entry, current))
  let state: TokenState = 'ok'
  let until: string | undefined
  let reason: string | undefined
  if (block) {
    state = 'blocked'
    reason = block.reason
  } else if (current?.disabled) {
    state = 'disabled'
    reason = current.disabled.reason
  } else if (entry.kind === 'access-token' && entry.expiresAt && Date.parse(entry.expiresAt) <= now) {
    state = 'expired'
  } else if (current?.coolingUntil && Date.parse(current.coolingUntil) > now) {
    state = 'cooling-down'
    until = current.coolingUntil
    reason = current.coolingReason
  }

  const plan = current?.limits?.plan ?? entry.plan
  return {
    label: entry.label,
    kind: entry.kind,
    upstream: entry.upstream,
    state,
    ...(until && {until}),
    ...(reason && {reason}),
    expiresAt: entry.expiresAt ?? null,
    lastUsedAt: current?.lastUsedAt ?? null,
    secret: entry.masked,
    store: entry.store,
    ...(entry.account && {account: entry.account}),
    ...(entry.chatgptAccountId && {chatgptAccount: maskAccountId(entry.chatgptAccountId)}),
    ...(plan && {plan}),
    ...(current?.limits && {limits: current.limits.windows, limitsSeenAt: current.limits.seenAt}),
    ...(entry.models && {models: entry.models}),
    ...(entry.concurrency !== undefined && {concurrency: entry.concurrency}),
    ...(entry.rpm !== undefined && {rpm: entry.rpm}),
    ...(entry.grantedUsd !== undefined && {grantedUsd: entry.grantedUsd}),
    addedAt: entry.addedAt,
  }
}

/** The last four characters of a ChatGPT account id: enough to tell accounts apart in a pasted listing. */
export function maskAccountId(id: string): string {
  return id.length > 8 ? `…${id.slice(-4)}` : '…'
}

/** Remove tokens: secrets first (so a locked keychain leaves the index intact to retry), then the index. */
export async function removeTokens(ctx: Context, labels: string[]): Promise<string[]> {
  if (labels.length === 0)
    throw new UsageError('Name at least one token label to remove.', {
      hint: 'See `gptconv tokens list` for the labels.',
    })
  const entries = entriesFor(ctx.config.read().tokens, labels)
  for (const entry of entries) {
    const store = (await secrets()).storeOfKind(entry.store, {env: ctx.env})
    await store.delete(accessAccount(entry.label))
    await store.delete(entry.label)
  }

  await ctx.config.update((s) => {
    for (const entry of entries) delete s.tokens[entry.label]
  })
  return entries.map((e) => e.label)
}

/**
 * Tokens kept in the OS keychain need a usable one. A locked keychain answers reads with
 * null, so without this check the daemon would start with no tokens and a new client key
 * in a file, and `tokens add` would put new secrets in a plain file. Throws
 * KeychainUnavailableError, having changed nothing, when the keychain cannot be used.
 */
export async function requireUsableStores(ctx: Context, settings: Settings): Promise<void> {
  const inKeychain = Object.values(settings.tokens)
    .filter((t) => t.store === 'keychain')
    .map((t) => t.label)
  if (inKeychain.length === 0) return
  const {KeychainStore, keychainService} = await secrets()
  try {
    await new KeychainStore(keychainService(ctx.env)).probe()
  } catch (error) {
    if (!(error instanceof KeychainUnavailableError)) throw error
    const which =
      inKeychain.length === 1
        ? `token "${inKeychain[0]}" is`
        : `${inKeychain.length} tokens (${inKeychain.join(', ')}) are`
    throw new KeychainUnavailableError(
      `The ${which} kept in the OS keychain, which cannot be used: ${error.message.replace(/^No usable OS keychain: /, '')}`,
      {
        hint: 'Unlock your keychain (on Linux: a running, unlocked Secret Service such as gnome-keyring) and try again. Nothing was changed.',
      },
    )
  }
}

/** Read a token's secret from the store it was put in — refused while the token is blocked (its upstream points elsewhere now). */
export async function readSecret(ctx: Context, entry: TokenEntry): Promise<string> {
  const block = blockOf(ctx, entry)
  if (block) throw new ConflictError('GPTCONV_TOKEN_BLOCKED', `Token "${entry.label}" is ${block.reason}.`)
  const secret = await (await secrets()).storeOfKind(entry.store, {env: ctx.env}).get(entry.label)
  if (secret === null) {
    throw new NotFoundError(
      'GPTCONV_SECRET_MISSING',
      `The secret of "${entry.label}" is missing from the ${entry.store === 'keychain' ? 'OS keychain' : 'secrets file'}${entry.store === 'keychain' ? ' (or the keychain is locked)' : ''}.`,
      {
        hint: `Unlock the keychain, or add the token again with \`gptconv tokens add ${entry.label} --kind ${entry.kind} --force\`.`,
      },
    )
  }

  return secret
}

/** Why a token may not be used where its upstream points now (core/binding.ts), or undefined. */
export function blockOf(ctx: Context, entry: TokenEntry): ReturnType<typeof originBlock> {
  const upstream = own(ctx.config.read().upstreams, entry.upstream)
  return (
    upstream &&
    originBlock(entry, upstream, recordedBinding(entry, own(readRuntimeState(ctx.paths.runtime).tokens, entry.label)))
  )
}
