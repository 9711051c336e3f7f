import {watch, type FSWatcher} from 'node:fs'
import {basename, dirname} from 'node:path'
import {own} from '../core/own.js'
import {accessTokenInfo} from '../core/jwt.js'

import {type Binding, type OriginBlock, bindingFor, originBlock, recordedBinding} from '../core/binding.js'
import type {Settings, TokenEntry, UpstreamConfig} from '../core/config.js'
import type {Context} from '../core/context.js'
import {errorMessage} from '../core/errors.js'
import type {TokenRuntime} from '../core/runtime-state.js'
import {storeOfKind} from '../core/secrets/index.js'
import {ApiError, badRequest} from './errors.js'
import type {ChatRequest} from './protocols/chat/types.js'
import type {PoolToken} from './pool.js'
import type {Endpoint, UpstreamAdapter} from './upstream/adapter.js'
import {adapterOf} from './upstream/index.js'

export type {Endpoint} from './upstream/adapter.js'

/** How a request may reach an upstream: its client body as it is (`native`), or the pivot chat request. */
export type Forms = {native: boolean; pivot?: ChatRequest}

export type LiveUpstream = UpstreamConfig & {name: string}
export type LiveToken = PoolToken & {
  models?: string[]
  account?: string
  grantedUsd?: number
  /** ChatGPT-plan tokens: the account (workspace) the backend wants named */ chatgptAccountId?: string
}

type Access = {token: string; expiresAt: number; account?: string; chatgptAccountId?: string}

/** What `--demo` (or a test) adds beside the configured upstreams and tokens; never persisted. */
export type ExtraTokens = {
  upstreams: Record<string, UpstreamConfig>
  tokens: Array<{entry: TokenEntry; secret: string}>
}

/**
 * The daemon's live view of settings, upstreams and tokens, secrets included (in memory
 * only). Rebuilt when the CLI changes the config file; a broken config keeps the last
 * good view and logs why.
 */
export class Registry {
  settings: Settings
  #upstreams = new Map<string, LiveUpstream>()
  #tokens = new Map<string, LiveToken>()
  #secrets = new Map<string, string>()
  /** refresh-token tokens: the current access token, its expiry and account (learned by the refresher) */
  #access = new Map<string, Access & {addedAt: string}>()
  /** entries written before bindings existed: the origin they were first used with (kept in state.json) */
  #firstSeen = new Map<string, Binding & {addedAt: string}>()
  /** tokens whose upstream points to another origin than they were stored for */
  #blocks = new Map<string, OriginBlock & {addedAt: string}>()

  private constructor(settings: Settings) {
    this.settings = settings
  }

  /** The registry of the config as it is now; `persisted`: the runtime state's tokens, read by the caller. */
  static async load(ctx: Context, persisted: Record<string, TokenRuntime>, extra?: ExtraTokens): Promise<Registry> {
    const registry = new Registry(ctx.config.read())
    for (const [label, runtime] of Object.entries(persisted)) {
      if (runtime.origin !== undefined)
        registry.#firstSeen.set(label, {
          origin: runtime.origin,
          ...(runtime.authOrigin !== undefined && {authOrigin: runtime.authOrigin}),
          addedAt: runtime.addedAt,
        })
    }

    await registry.#rebuild(ctx, registry.settings, extra)
    return registry
  }

  /** Re-read the config (the CLI changed it). */
  async reload(ctx: Context, extra?: ExtraTokens): Promise<void> {
    const settings = ctx.config.read()
    await this.#rebuild(ctx, settings, extra)
    this.settings = settings
  }

  async #rebuild(ctx: Context, settings: Settings, extra?: ExtraTokens): Promise<void> {
    const upstreams = new Map<string, LiveUpstream>()
    for (const [name, u] of Object.entries({...settings.upstreams, ...extra?.upstreams}))
      upstreams.set(name, {name, ...u})
    const tokens = new Map<string, LiveToken>()
    const secrets = new Map<string, string>()
    const firstSeen = new Map<string, Binding & {addedAt: string}>()
    const blocks = new Map<string, OriginBlock & {addedAt: string}>()
    const entries = [
      ...Object.values(settings.tokens).map((entry) => ({entry, secret: undefined as string | undefined})),
      ...(extra?.tokens ?? []),
    ]
    for (const {entry, secret} of entries) {
      const upstream = upstreams.get(entry.upstream)
      if (!upstream) continue
      const known = this.#tokens.get(entry.label)
      const value =
        secret ?? (known?.addedAt === entry.addedAt ? this.#secrets.get(entry.label) : await readSecret(ctx, entry))
      if (value === undefined) continue
      const access = this.#access.get(entry.label)
      const block = this.#bind(entry, upstream, firstSeen)
      if (block) blocks.set(entry.label, {...block, addedAt: entry.addedAt})
      tokens.set(
        entry.label,
        liveToken(entry, upstream, access?.addedAt === entry.addedAt ? access : undefined, block?.reason),
      )
      // a blocked token's secret is kept all the same: it is scrubbed from what the daemon logs and returns
      secrets.set(entry.label, value)
    }

    for (const [label, access] of this.#access)
      if (tokens.get(label)?.addedAt !== access.addedAt) this.#access.delete(label)
    this.#upstreams = upstreams
    this.#tokens = tokens
    this.#secrets = secrets
    this.#firstSeen = firstSeen
    this.#blocks = blocks
  }

  /**
   * May this token go where its upstream points now? An entry without a binding of its own
   * (written before bindings existed) is bound to the origin it is first seen with here.
   */
  #bind(
    entry: TokenEntry,
    upstream: LiveUpstream,
    firstSeen: Map<string, Binding & {addedAt: string}>,
  ): OriginBlock | undefined {
    let recorded = recordedBinding(entry)
    if (recorded === undefined) {
      const seen = this.#firstSeen.get(entry.label)
      recorded = seen?.addedAt === entry.addedAt ? seen : bindingFor(entry.kind, upstream)
      firstSeen.set(entry.label, {
        origin: recorded.origin,
        ...(recorded.authOrigin !== undefined && {authOrigin: recorded.authOrigin}),
        addedAt: entry.addedAt,
      })
    }

    return originBlock(entry, upstream, recorded)
  }

  /** Tokens blocked because their upstream points to another origin than they were stored for. */
  blocks(): Array<OriginBlock & {addedAt: string}> {
    return [...this.#blocks.values()]
  }

  /** The bindings of entries written before bindings existed, for state.json (by label). */
  firstSeen(): ReadonlyMap<string, Binding & {addedAt: string}> {
    return this.#firstSeen
  }

  get tokens(): LiveToken[] {
    return [...this.#tokens.values()]
  }

  get upstreams(): LiveUpstream[] {
    return [...this.#upstreams.values()]
  }

  token(label: string): LiveToken | undefined {
    return this.#tokens.get(label)
  }

  upstream(name: string): LiveUpstream | undefined {
    return this.#upstreams.get(name)
  }

  /** The stored secret: API key, access token or refresh token. */
  secret(label: string): string | undefined {
    return this.#secrets.get(label)
  }

  /** What goes upstream as Bearer: the current access token for a refresh-token token, else its secret; nothing for a blocked token. */
  credential(label: string): string | undefined {
    const token = this.#tokens.get(label)
    if (token?.blocked) return undefined
    return token?.kind === 'refresh-token' ? this.#access.get(label)?.token : this.#secrets.get(label)
  }

  /** Every secret the daemon holds, to scrub from anything it logs or returns. */
  *secrets(): Generator<string> {
    yield* this.#secrets.values()
    for (const access of this.#access.values()) yield access.token
  }

  /** A refresh-token token got a new access token (and maybe a rotated refresh token). */
  setAccess(label: string, access: Access, refreshToken?: string): void {
    const token = this.#tokens.get(label)
    if (!token) return
    const chatgptAccountId = access.chatgptAccountId ?? claims(access.token).chatgptAccountId
    this.#access.set(label, {...access, ...(chatgptAccountId && {chatgptAccountId}), addedAt: token.addedAt})
    if (refreshToken) this.#secrets.set(label, refreshToken)
    const upstream = this.#upstreams.get(token.upstream)
    const account = chatgptAccountId ?? access.account
    if (upstream)
      this.#tokens.set(label, {
        ...token,
        expiresAt: access.expiresAt,
        ...(access.account && {account: access.account}),
        ...(chatgptAccountId && {chatgptAccountId}),
        ...(account && {group: `account:${upstream.name}:${account}`}),
      })
  }

  /** The model a client asked for, after `aliases`. */
  resolveAlias(model: string): string {
    return own(this.settings.aliases, model) ?? model
  }

  /** The name to send upstream: the upstream's `modelMap`, else unchanged. */
  upstreamModel(upstream: LiveUpstream, model: string): string {
    return own(upstream.modelMap, model) ?? model
  }

  /** Does this upstream serve `model` (as the client names it, after aliases)? Without a `models` list it serves anything. */
  serves(upstream: LiveUpstream, model: string): boolean {
    return !upstream.models || upstream.models.includes(model) || own(upstream.modelMap, model) !== undefined
  }

  /**
   * Tokens that can serve `endpoint` for `model`: their upstream takes the client's body as it
   * is, or — when there is a pivot request — converts it and does not refuse what it asks.
   */
  filterFor(endpoint: Endpoint, model: string, forms: Forms = {native: true}): (token: PoolToken) => boolean {
    // what each kind of upstream refuses, worked out once per request (and only for requests that need a conversion)
    let refusals: Map<UpstreamAdapter, boolean> | undefined
    const takes = (adapter: UpstreamAdapter, upstream: LiveUpstream): boolean => {
      if (!adapter.serves(endpoint, upstream)) return false
      if (forms.native && adapter.native(endpoint, upstream)) return true
      if (forms.pivot === undefined) return false
      refusals ??= new Map()
      let refused = refusals.get(adapter)
      if (refused === undefined) refusals.set(adapter, (refused = adapter.refuses?.(forms.pivot) !== undefined))
      return !refused
    }

    return (pooled) => {
      const token = this.#tokens.get(pooled.label)
      const upstream = token && this.#upstreams.get(token.upstream)
      if (!token || !upstream || !takes(adapterOf(upstream), upstream)) return false
      if (token.models && !token.models.includes(model)) return false
      return this.serves(upstream, model)
    }
  }

  /** 404 unless some token could serve the model at all; 400 when only upstreams that refuse what the request needs could. */
  requireModel(endpoint: Endpoint, model: string, forms: Forms = {native: true}): void {
    const filter = this.filterFor(endpoint, model, forms)
    for (const token of this.#tokens.values()) if (filter(token)) return
    if (forms.pivot) {
      const pivot = forms.pivot
      const refusal = this.tokens
        .map((t) => this.#upstreams.get(t.upstream))
        .map((u) => u && adapterOf(u).refuses?.(pivot))
        .find(Boolean)
      const byModel = (t: PoolToken) =>
        !this.#tokens.get(t.label)?.models || this.#tokens.get(t.label)!.models!.includes(model)
      if (refusal && this.tokens.some((t) => byModel(t) && this.serves(this.#upstreams.get(t.upstream)!, model)))
        throw badRequest(refusal[1], refusal[0], refusal[2])
    }

    if (this.#tokens.size === 0) {
      throw new ApiError(
        503,
        'no_tokens',
        'gptconv has no tokens yet. Add one with `gptconv tokens add LABEL --kind api-key`, or start with `gptconv serve --demo`.',
        {type: 'server_error'},
      )
    }

    throw new ApiError(
      404,
      'model_not_found',
      `The model \`${model}\` does not exist or no token of gptconv serves it${endpoint === 'chat' ? '' : ` on ${endpoint}`}.`,
      {param: 'model'},
    )
  }
}

/** What an access token's claims say (nothing when it is not a JWT). */
function claims(token: string): {chatgptAccountId?: string} {
  try {
    return accessTokenInfo(token)
  } catch {
    return {}
  }
}

function liveToken(
  entry: TokenEntry,
  upstream: LiveUpstream,
  access?: Omit<Access, 'token'>,
  blocked?: string,
): LiveToken {
  // a ChatGPT account (web or plan) answers one request at a time, whichever of its tokens is used
  const web = upstream.protocol !== 'openai'
  const chatgptAccountId = access?.chatgptAccountId ?? entry.chatgptAccountId
  const account = chatgptAccountId ?? entry.account ?? access?.account
  return {
    label: entry.label,
    addedAt: entry.addedAt,
    kind: entry.kind,
    upstream: entry.upstream,
    concurrency: entry.concurrency ?? (web ? 1 : Number.POSITIVE_INFINITY),
    ...(entry.rpm !== undefined && {rpm: entry.rpm}),
    // one ChatGPT account answers one request at a time, whichever of its tokens is used
    ...(web && account && {group: `account:${upstream.name}:${account}`}),
    ...(entry.kind === 'access-token' && entry.expiresAt && {expiresAt: Date.parse(entry.expiresAt)}),
    // a refresh-token token is usable once it has a valid access token
    ...(entry.kind === 'refresh-token' && {expiresAt: access?.expiresAt ?? 0}),
    ...(entry.models && {models: entry.models}),
    ...((entry.account ?? access?.account) && {account: entry.account ?? access?.account}),
    ...(chatgptAccountId && {chatgptAccountId}),
    ...(entry.grantedUsd !== undefined && {grantedUsd: entry.grantedUsd}),
    ...(blocked !== undefined && {blocked}),
  }
}

async function readSecret(ctx: Context, entry: TokenEntry): Promise<string | undefined> {
  try {
    const secret = await storeOfKind(entry.store, {env: ctx.env}).get(entry.label)
    if (secret === null)
      ctx.warn(
        `token "${entry.label}": its secret is missing from the ${entry.store === 'keychain' ? 'keychain (or the keychain is locked)' : 'secrets file'}; not used`,
      )
    return secret ?? undefined
  } catch (error) {
    ctx.warn(`token "${entry.label}": ${errorMessage(error)}; not used`)
    return undefined
  }
}

/**
 * Call `onChange` (debounced) when the config file is replaced or written. conf writes
 * atomically (a rename), so the directory is watched, not the file.
 */
export function watchConfig(path: string, onChange: () => void, debounceMs = 100): FSWatcher {
  let timer: NodeJS.Timeout | undefined
  const watcher = watch(dirname(path), {persistent: false}, (_event, file) => {
    if (file !== basename(path)) return
    clearTimeout(timer)
    timer = setTimeout(onChange, debounceMs)
  })
  return watcher
}
