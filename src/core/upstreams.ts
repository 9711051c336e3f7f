import {bindingFor, describeBinding, originBlock, originOf, recordedBinding} from './binding.js'
import type {AuthStyle, LegacyMode, Protocol, ResponsesMode, Settings, TokenEntry, UpstreamConfig} from './config.js'
import type {Context} from './context.js'
import {ConflictError, NotFoundError, UsageError} from './errors.js'
import {own} from './own.js'
import {type TokenRuntime, readRuntimeState} from './runtime-state.js'

export type UpstreamView = UpstreamConfig & {name: string; tokens: number}

export type AddUpstreamInput = {
  name: string
  protocol: Protocol
  /** required except for codex upstreams, which default to the ChatGPT Codex backend */
  baseUrl?: string
  authUrl?: string
  authStyle?: AuthStyle
  clientId?: string
  redirectUri?: string
  modelMap?: Record<string, string>
  models?: string[]
  legacy?: LegacyMode
  responses?: ResponsesMode
  force?: boolean
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i

export const OPENAI_BASE_URL = 'https://api.openai.com/v1'
/** Where Codex CLI sends a ChatGPT plan's requests (Responses-shaped). */
export const CODEX_BASE_URL = 'https://chatgpt.com/backend-api/codex'
/** The OAuth issuer Codex CLI signs in at; its token endpoint is `{issuer}/oauth/token`. */
export const CODEX_AUTH_URL = 'https://auth.openai.com'

/** How `/v1/responses` reaches an upstream: OpenAI itself serves it (native); others are bridged through chat unless configured. */
export function responsesMode(upstream: UpstreamConfig): ResponsesMode {
  return (
    upstream.responses ?? (upstream.protocol === 'openai' && upstream.baseUrl === OPENAI_BASE_URL ? 'native' : 'bridge')
  )
}

/** A base URL without a trailing slash, http(s) only, no credentials or query in it. */
export function normalizeUrl(value: string, flag: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new UsageError(`${flag} "${value}" is not a URL.`, {
      hint: `Give a full URL, e.g. ${flag} https://api.example.com/v1`,
    })
  }

  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${flag} must be an http or https URL.`)
  if (url.username || url.password)
    throw new UsageError(`${flag} must not carry credentials; store them with \`gptconv tokens add\`.`)
  if (url.search || url.hash) throw new UsageError(`${flag} must not have a query or fragment.`)
  return url.href.replace(/\/+$/, '')
}

/** Parse `a=b,c=d` into a map. */
export function parseModelMap(value: string): Record<string, string> {
  const map: Record<string, string> = {}
  for (const pair of value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [from, to, ...rest] = pair.split('=').map((p) => p.trim())
    if (!from || !to || rest.length > 0)
      throw new UsageError(`--model-map entry "${pair}" is not of the form requested=upstream.`, {
        hint: 'Example: --model-map gpt-4=gpt-4o,gpt-3.5-turbo=gpt-4o-mini',
      })
    map[from] = to
  }

  return map
}

export function listUpstreams(ctx: Context): UpstreamView[] {
  const settings = ctx.config.read()
  const used = (name: string) => Object.values(settings.tokens).filter((t) => t.upstream === name).length
  return Object.entries(settings.upstreams)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, u]) => ({name, ...u, tokens: used(name)}))
}

export async function addUpstream(ctx: Context, input: AddUpstreamInput): Promise<UpstreamView> {
  if (!NAME.test(input.name))
    throw new UsageError(`Invalid upstream name "${input.name}".`, {
      hint: 'Use 1-64 letters, digits and . _ - (starting with a letter or digit).',
    })
  const upstream = input.protocol === 'codex' ? codexUpstream(input) : otherUpstream(input)
  if (input.legacy === 'passthrough' && input.protocol !== 'openai')
    throw new UsageError('--legacy passthrough needs an openai-protocol upstream that serves /v1/completions itself.')
  const runtime = readRuntimeState(ctx.paths.runtime).tokens
  const {tokens, blocked} = await ctx.config.update((s) => {
    const existing = own(s.upstreams, input.name)
    if (existing && !input.force)
      throw new ConflictError('GPTCONV_UPSTREAM_EXISTS', `An upstream named "${input.name}" already exists.`, {
        hint: 'Pass --force to replace it.',
      })
    const users = Object.values(s.tokens).filter((t) => t.upstream === input.name)
    if (existing && existing.protocol !== upstream.protocol && users.length > 0) {
      throw new ConflictError(
        'GPTCONV_UPSTREAM_IN_USE',
        `Upstream "${input.name}" is used by ${users.map((t) => t.label).join(', ')}, whose kind needs protocol ${existing.protocol}.`,
        {hint: 'Remove those tokens first, or add the new upstream under another name.'},
      )
    }

    // the tokens stay bound to where they were stored for: a new origin blocks them until confirmed
    if (existing) bindUsers(s, input.name, existing, runtime)
    s.upstreams[input.name] = upstream
    return {tokens: users.length, blocked: users.filter((t) => originBlock(t, upstream, recordedBinding(t)))}
  })
  if (blocked.length > 0) {
    ctx.warn(
      `${blocked.length === 1 ? 'Token' : 'Tokens'} ${blocked.map((t) => `"${t.label}" (stored for ${describeBinding(recordedBinding(t)!)})`).join(', ')} of "${input.name}" ${blocked.length === 1 ? 'is' : 'are'} blocked now: a stored secret is not sent to another origin (${originOf(upstream.baseUrl)}) until you confirm it with \`gptconv upstreams set-url ${input.name} ${upstream.baseUrl} --move-tokens\` or \`gptconv tokens add LABEL --force\`.`,
    )
  }

  return {name: input.name, ...upstream, tokens}
}

/** The OAuth refresh settings of an OpenAI-auth exchange are chatgpt-web's; codex has its own fixed client. */
function otherUpstream(input: AddUpstreamInput): UpstreamConfig {
  if (input.baseUrl === undefined)
    throw new UsageError(`--base-url is required for ${input.protocol} upstreams.`, {
      hint: `Give the upstream's base URL, e.g. --base-url https://api.example.com/v1`,
    })
  if ((input.authUrl || input.authStyle || input.clientId || input.redirectUri) && input.protocol !== 'chatgpt-web')
    throw new UsageError(
      '--auth-url, --auth-style, --client-id and --redirect-uri only apply to chatgpt-web upstreams (refresh-token exchange) and --auth-url to codex upstreams.',
    )
  return {
    protocol: input.protocol,
    baseUrl: normalizeUrl(input.baseUrl, '--base-url'),
    ...(input.authUrl && {authUrl: normalizeUrl(input.authUrl, '--auth-url')}),
    ...(input.authStyle && {authStyle: input.authStyle}),
    ...(input.clientId && {clientId: input.clientId}),
    ...(input.redirectUri && {redirectUri: input.redirectUri}),
    ...common(input),
  }
}

/** A ChatGPT plan through the Codex backend: both URLs default to OpenAI's, and are kept in the config so `upstreams list` shows them. */
function codexUpstream(input: AddUpstreamInput): UpstreamConfig {
  if (input.authStyle || input.clientId || input.redirectUri)
    throw new UsageError(
      '--auth-style, --client-id and --redirect-uri do not apply to codex upstreams: they sign in as Codex CLI does.',
    )
  const authUrl = normalizeUrl(input.authUrl ?? CODEX_AUTH_URL, '--auth-url')
  if (/\/oauth\/(token|authorize)$/.test(new URL(authUrl).pathname)) {
    throw new UsageError('--auth-url of a codex upstream is the OAuth issuer, not its token endpoint.', {
      hint: `Drop the path: --auth-url ${authUrl.replace(/\/oauth\/(token|authorize)$/, '')}`,
    })
  }

  return {
    protocol: 'codex',
    baseUrl: normalizeUrl(input.baseUrl ?? CODEX_BASE_URL, '--base-url'),
    authUrl,
    ...common(input),
  }
}

function common(input: AddUpstreamInput): Partial<UpstreamConfig> {
  return {
    ...(input.modelMap && Object.keys(input.modelMap).length > 0 && {modelMap: input.modelMap}),
    ...(input.models?.length && {models: input.models}),
    ...(input.legacy && {legacy: input.legacy}),
    ...(input.responses && {responses: input.responses}),
  }
}

/**
 * Point an upstream at another base URL (`gptconv upstreams set-url`). Its tokens were
 * stored for the old origin: without `moveTokens` the change is refused while any of them
 * would be blocked by it (the message names them); with it, they are bound to the new one.
 */
export async function setUpstreamUrl(
  ctx: Context,
  input: {name: string; baseUrl: string; moveTokens?: boolean},
): Promise<UpstreamView & {moved: string[]}> {
  const baseUrl = normalizeUrl(input.baseUrl, 'URL')
  const runtime = readRuntimeState(ctx.paths.runtime).tokens
  return ctx.config.update((s) => {
    const existing = own(s.upstreams, input.name)
    if (!existing)
      throw new NotFoundError('GPTCONV_UPSTREAM_NOT_FOUND', `No upstream named "${input.name}".`, {
        hint: 'See `gptconv upstreams list`.',
      })
    const upstream: UpstreamConfig = {...existing, baseUrl}
    const users = bindUsers(s, input.name, existing, runtime)
    const stranded = users.filter((t) => originBlock(t, upstream, recordedBinding(t)))
    if (stranded.length > 0 && !input.moveTokens) {
      const which = stranded.map((t) => `"${t.label}" (stored for ${describeBinding(recordedBinding(t)!)})`).join(', ')
      throw new ConflictError(
        'GPTCONV_TOKENS_BOUND',
        `Upstream "${input.name}" has ${stranded.length === 1 ? 'a token' : 'tokens'} bound to another origin than ${originOf(baseUrl)}: ${which}. Their secrets are not sent there unless you say so.`,
        {
          hint: `Pass --move-tokens to send them to ${originOf(baseUrl)} from now on (gptconv upstreams set-url ${input.name} ${baseUrl} --move-tokens), or add the upstream under another name.`,
        },
      )
    }

    if (input.moveTokens) {
      for (const token of users) {
        delete token.authOrigin
        Object.assign(token, bindingFor(token.kind, upstream))
      }
    }

    s.upstreams[input.name] = upstream
    return {
      name: input.name,
      ...upstream,
      tokens: users.length,
      moved: input.moveTokens ? stranded.map((t) => t.label) : [],
    }
  })
}

/**
 * The tokens of an upstream, each with its binding written into its entry: an entry from
 * before bindings existed is bound to the origin the daemon first used it with (state.json),
 * else to the upstream as it is configured before the change.
 */
function bindUsers(
  s: Settings,
  name: string,
  current: UpstreamConfig,
  runtime: Record<string, TokenRuntime>,
): TokenEntry[] {
  const users = Object.values(s.tokens).filter((t) => t.upstream === name)
  for (const token of users)
    if (token.origin === undefined)
      Object.assign(token, recordedBinding(token, own(runtime, token.label)) ?? bindingFor(token.kind, current))
  return users
}

export async function removeUpstreams(ctx: Context, names: string[]): Promise<string[]> {
  if (names.length === 0)
    throw new UsageError('Name at least one upstream to remove.', {hint: 'See `gptconv upstreams list`.'})
  await ctx.config.update((s) => {
    const unknown = names.filter((n) => own(s.upstreams, n) === undefined)
    if (unknown.length > 0)
      throw new NotFoundError(
        'GPTCONV_UPSTREAM_NOT_FOUND',
        `No upstream named ${unknown.map((n) => `"${n}"`).join(', ')}.`,
        {hint: 'See `gptconv upstreams list`.'},
      )
    for (const name of names) {
      const users = Object.values(s.tokens)
        .filter((t) => t.upstream === name)
        .map((t) => t.label)
      if (users.length > 0) {
        throw new ConflictError(
          'GPTCONV_UPSTREAM_IN_USE',
          `Upstream "${name}" is used by the token${users.length > 1 ? 's' : ''} ${users.join(', ')}.`,
          {hint: `Remove ${users.length > 1 ? 'them' : 'it'} first: gptconv tokens remove ${users.join(' ')}`},
        )
      }
    }

    for (const name of names) delete s.upstreams[name]
  })
  return names
}
