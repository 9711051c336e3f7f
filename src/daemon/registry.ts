import {watch, type FSWatcher} from 'node:fs'
import {basename, dirname} from 'node:path'

import type {Settings, TokenEntry, UpstreamConfig} from '../core/config.js'
import type {Context} from '../core/context.js'
import {errorMessage} from '../core/errors.js'
import {storeOfKind} from '../core/secrets/index.js'
import {ApiError} from './errors.js'
import type {PoolToken} from './pool.js'

export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'images' | 'models'

export type LiveUpstream = UpstreamConfig & {name: string}
export type LiveToken = PoolToken & {models?: string[]; account?: string; grantedUsd?: number}

/** What `--demo` (or a test) adds beside the configured upstreams and tokens; never persisted. */
export type ExtraTokens = {upstreams: Record<string, UpstreamConfig>; tokens: Array<{entry: TokenEntry; secret: string}>}

/** Which endpoints each upstream protocol can serve. */
const SUPPORTS: Record<UpstreamConfig['protocol'], ReadonlySet<Endpoint>> = {
  openai: new Set(['chat', 'completions', 'embeddings', 'images', 'models']),
  'chatgpt-web': new Set(['chat', 'models']),
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

  private constructor(settings: Settings) {
    this.settings = settings
  }

  static async load(ctx: Context, extra?: ExtraTokens): Promise<Registry> {
    const registry = new Registry(ctx.config.read())
    await registry.#rebuild(ctx, registry.settings, extra)
    return registry
  }

  /** Re-read the config; returns the labels whose secret or index changed. */
  async reload(ctx: Context, extra?: ExtraTokens): Promise<void> {
    const settings = ctx.config.read()
    await this.#rebuild(ctx, settings, extra)
    this.settings = settings
  }

  async #rebuild(ctx: Context, settings: Settings, extra?: ExtraTokens): Promise<void> {
    const upstreams = new Map<string, LiveUpstream>()
    for (const [name, u] of Object.entries({...settings.upstreams, ...extra?.upstreams})) upstreams.set(name, {name, ...u})
    const tokens = new Map<string, LiveToken>()
    const secrets = new Map<string, string>()
    const entries = [...Object.values(settings.tokens).map((entry) => ({entry, secret: undefined as string | undefined})), ...(extra?.tokens ?? [])]
    for (const {entry, secret} of entries) {
      const upstream = upstreams.get(entry.upstream)
      if (!upstream) continue
      const known = this.#tokens.get(entry.label)
      const value = secret ?? (known?.addedAt === entry.addedAt ? this.#secrets.get(entry.label) : await readSecret(ctx, entry))
      if (value === undefined) continue
      tokens.set(entry.label, liveToken(entry, upstream))
      secrets.set(entry.label, value)
    }

    this.#upstreams = upstreams
    this.#tokens = tokens
    this.#secrets = secrets
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

  secret(label: string): string | undefined {
    return this.#secrets.get(label)
  }

  /** Every secret the daemon holds, to scrub from anything it logs or returns. */
  secrets(): IterableIterator<string> {
    return this.#secrets.values()
  }

  setSecret(label: string, secret: string): void {
    this.#secrets.set(label, secret)
  }

  /** The model a client asked for, after `aliases`. */
  resolveAlias(model: string): string {
    return this.settings.aliases[model] ?? model
  }

  /** The name to send upstream: the upstream's `modelMap`, else unchanged. */
  upstreamModel(upstream: LiveUpstream, model: string): string {
    return upstream.modelMap?.[model] ?? model
  }

  /** Does this upstream serve `model` (as the client names it, after aliases)? Without a `models` list it serves anything. */
  serves(upstream: LiveUpstream, model: string): boolean {
    return !upstream.models || upstream.models.includes(model) || Boolean(upstream.modelMap?.[model])
  }

  /** Tokens that can serve `endpoint` for `model`. */
  filterFor(endpoint: Endpoint, model: string): (token: PoolToken) => boolean {
    return (pooled) => {
      const token = this.#tokens.get(pooled.label)
      const upstream = token && this.#upstreams.get(token.upstream)
      if (!token || !upstream || !SUPPORTS[upstream.protocol].has(endpoint)) return false
      // `completions` here means served natively; converted completions go through `chat`
      if (endpoint === 'completions' && upstream.legacy !== 'passthrough') return false
      if (token.models && !token.models.includes(model)) return false
      return this.serves(upstream, model)
    }
  }

  /** 404 unless some token could serve the model at all. */
  requireModel(endpoint: Endpoint, model: string): void {
    const filter = this.filterFor(endpoint, model)
    if (this.tokens.some((t) => filter(t))) return
    if (this.#tokens.size === 0) {
      throw new ApiError(503, 'no_tokens', 'gptconv has no tokens yet. Add one with `gptconv tokens add LABEL --kind api-key`, or start with `gptconv serve --demo`.', {type: 'server_error'})
    }

    throw new ApiError(404, 'model_not_found', `The model \`${model}\` does not exist or no token of gptconv serves it${endpoint === 'chat' ? '' : ` on ${endpoint}`}.`, {param: 'model'})
  }
}

function liveToken(entry: TokenEntry, upstream: LiveUpstream): LiveToken {
  const web = upstream.protocol === 'chatgpt-web'
  return {
    label: entry.label,
    addedAt: entry.addedAt,
    kind: entry.kind,
    upstream: entry.upstream,
    concurrency: entry.concurrency ?? (web ? 1 : Number.POSITIVE_INFINITY),
    ...(entry.rpm !== undefined && {rpm: entry.rpm}),
    // one ChatGPT account answers one request at a time, whichever of its tokens is used
    ...(web && entry.account && {group: `account:${upstream.name}:${entry.account}`}),
    ...(entry.kind === 'access-token' && entry.expiresAt && {expiresAt: Date.parse(entry.expiresAt)}),
    ...(entry.models && {models: entry.models}),
    ...(entry.account && {account: entry.account}),
    ...(entry.grantedUsd !== undefined && {grantedUsd: entry.grantedUsd}),
  }
}

async function readSecret(ctx: Context, entry: TokenEntry): Promise<string | undefined> {
  try {
    const secret = await storeOfKind(entry.store, {env: ctx.env}).get(entry.label)
    if (secret === null) ctx.warn(`token "${entry.label}": its secret is missing from the ${entry.store === 'keychain' ? 'keychain (or the keychain is locked)' : 'secrets file'}; not used`)
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
