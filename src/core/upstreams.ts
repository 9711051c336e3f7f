import type {AuthStyle, LegacyMode, Protocol, ResponsesMode, UpstreamConfig} from './config.js'
import type {Context} from './context.js'
import {ConflictError, NotFoundError, UsageError} from './errors.js'
import {own} from './own.js'

export type UpstreamView = UpstreamConfig & {name: string; tokens: number}

export type AddUpstreamInput = {
  name: string
  protocol: Protocol
  baseUrl: string
  authUrl?: string
  authStyle?: AuthStyle
  clientId?: string
  redirectUri?: string
  modelMap?: Record<string, string>
  models?: string[]
  legacy?: LegacyMode
  force?: boolean
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i

export const OPENAI_BASE_URL = 'https://api.openai.com/v1'

/** How `/v1/responses` reaches an upstream: OpenAI itself serves it (native); others are bridged through chat unless configured. */
export function responsesMode(upstream: UpstreamConfig): ResponsesMode {
  return upstream.responses ?? (upstream.protocol === 'openai' && upstream.baseUrl === OPENAI_BASE_URL ? 'native' : 'bridge')
}

/** A base URL without a trailing slash, http(s) only, no credentials or query in it. */
export function normalizeUrl(value: string, flag: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new UsageError(`${flag} "${value}" is not a URL.`, {hint: `Give a full URL, e.g. ${flag} https://api.example.com/v1`})
  }

  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${flag} must be an http or https URL.`)
  if (url.username || url.password) throw new UsageError(`${flag} must not carry credentials; store them with \`gptconv tokens add\`.`)
  if (url.search || url.hash) throw new UsageError(`${flag} must not have a query or fragment.`)
  return url.href.replace(/\/+$/, '')
}

/** Parse `a=b,c=d` into a map. */
export function parseModelMap(value: string): Record<string, string> {
  const map: Record<string, string> = {}
  for (const pair of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [from, to, ...rest] = pair.split('=').map((p) => p.trim())
    if (!from || !to || rest.length > 0) throw new UsageError(`--model-map entry "${pair}" is not of the form requested=upstream.`, {hint: 'Example: --model-map gpt-4=gpt-4o,gpt-3.5-turbo=gpt-4o-mini'})
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
  if (!NAME.test(input.name)) throw new UsageError(`Invalid upstream name "${input.name}".`, {hint: 'Use 1-64 letters, digits and . _ - (starting with a letter or digit).'})
  if ((input.authUrl || input.authStyle || input.clientId || input.redirectUri) && input.protocol !== 'chatgpt-web') throw new UsageError('--auth-url, --auth-style, --client-id and --redirect-uri only apply to chatgpt-web upstreams (refresh-token exchange).')
  const upstream: UpstreamConfig = {
    protocol: input.protocol,
    baseUrl: normalizeUrl(input.baseUrl, '--base-url'),
    ...(input.authUrl && {authUrl: normalizeUrl(input.authUrl, '--auth-url')}),
    ...(input.authStyle && {authStyle: input.authStyle}),
    ...(input.clientId && {clientId: input.clientId}),
    ...(input.redirectUri && {redirectUri: input.redirectUri}),
    ...(input.modelMap && Object.keys(input.modelMap).length > 0 && {modelMap: input.modelMap}),
    ...(input.models?.length && {models: input.models}),
    ...(input.legacy && {legacy: input.legacy}),
  }
  if (input.legacy === 'passthrough' && input.protocol !== 'openai') throw new UsageError('--legacy passthrough needs an openai-protocol upstream that serves /v1/completions itself.')
  const tokens = await ctx.config.update((s) => {
    const existing = own(s.upstreams, input.name)
    if (existing && !input.force) throw new ConflictError('GPTCONV_UPSTREAM_EXISTS', `An upstream named "${input.name}" already exists.`, {hint: 'Pass --force to replace it.'})
    const users = Object.values(s.tokens).filter((t) => t.upstream === input.name)
    if (existing && existing.protocol !== upstream.protocol && users.length > 0) {
      throw new ConflictError('GPTCONV_UPSTREAM_IN_USE', `Upstream "${input.name}" is used by ${users.map((t) => t.label).join(', ')}, whose kind needs protocol ${existing.protocol}.`, {hint: 'Remove those tokens first, or add the new upstream under another name.'})
    }

    s.upstreams[input.name] = upstream
    return users.length
  })
  return {name: input.name, ...upstream, tokens}
}

export async function removeUpstreams(ctx: Context, names: string[]): Promise<string[]> {
  if (names.length === 0) throw new UsageError('Name at least one upstream to remove.', {hint: 'See `gptconv upstreams list`.'})
  await ctx.config.update((s) => {
    const unknown = names.filter((n) => own(s.upstreams, n) === undefined)
    if (unknown.length > 0) throw new NotFoundError('GPTCONV_UPSTREAM_NOT_FOUND', `No upstream named ${unknown.map((n) => `"${n}"`).join(', ')}.`, {hint: 'See `gptconv upstreams list`.'})
    for (const name of names) {
      const users = Object.values(s.tokens).filter((t) => t.upstream === name).map((t) => t.label)
      if (users.length > 0) {
        throw new ConflictError('GPTCONV_UPSTREAM_IN_USE', `Upstream "${name}" is used by the token${users.length > 1 ? 's' : ''} ${users.join(', ')}.`, {hint: `Remove ${users.length > 1 ? 'them' : 'it'} first: gptconv tokens remove ${users.join(' ')}`})
      }
    }

    for (const name of names) delete s.upstreams[name]
  })
  return names
}
