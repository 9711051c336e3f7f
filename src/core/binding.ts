import type {TokenEntry, TokenKind, UpstreamConfig} from './config.js'
import type {TokenRuntime} from './runtime-state.js'

/**
 * A stored secret is bound to the origin it was stored for: the origin of its upstream's
 * base URL (where it goes as Bearer), and for a refresh token the origin of the auth URL
 * (where it is exchanged). When the upstream is pointed elsewhere (config.json edited,
 * `upstreams add NAME --force` with another base URL) the token is blocked, not sent
 * there, until the user confirms: `tokens add LABEL --force` (re-adding it) or
 * `upstreams set-url NAME URL --move-tokens`.
 *
 * Token entries written before bindings existed have none. They are bound on first use:
 * the daemon binds them to the upstream's origin when it first loads them, and keeps that
 * in `state.json` (so it holds across restarts); `upstreams add --force` and `set-url`
 * write the binding into the entry before they change the URL.
 */
export type Binding = {origin: string; authOrigin?: string}

/** Why a token is blocked: its binding and where its upstream points now. */
export type OriginBlock = {label: string; upstream: string; from: string; to: string; reason: string}

export function originOf(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return url
  }
}

/** The binding a token of `kind` gets on `upstream` as it is configured now. */
export function bindingFor(kind: TokenKind, upstream: Pick<UpstreamConfig, 'baseUrl' | 'authUrl'>): Binding {
  return {
    origin: originOf(upstream.baseUrl),
    ...(kind === 'refresh-token' && upstream.authUrl && {authOrigin: originOf(upstream.authUrl)}),
  }
}

/** The binding an entry carries, or the one recorded on its first use (`state.json`), or none yet. */
export function recordedBinding(entry: TokenEntry, runtime?: TokenRuntime): Binding | undefined {
  if (entry.origin !== undefined)
    return {origin: entry.origin, ...(entry.authOrigin !== undefined && {authOrigin: entry.authOrigin})}
  if (runtime?.origin !== undefined && runtime.addedAt === entry.addedAt)
    return {origin: runtime.origin, ...(runtime.authOrigin !== undefined && {authOrigin: runtime.authOrigin})}
  return undefined
}

export function sameBinding(a: Binding, b: Binding): boolean {
  return a.origin === b.origin && a.authOrigin === b.authOrigin
}

export function describeBinding(binding: Binding): string {
  return binding.authOrigin === undefined ? binding.origin : `${binding.origin} (refreshed at ${binding.authOrigin})`
}

/** Undefined when the token may go where its upstream points now (or has no binding yet); else why not. */
export function originBlock(
  entry: TokenEntry,
  upstream: Pick<UpstreamConfig, 'baseUrl' | 'authUrl'>,
  recorded: Binding | undefined,
): OriginBlock | undefined {
  if (recorded === undefined) return undefined
  const now = bindingFor(entry.kind, upstream)
  if (sameBinding(recorded, now)) return undefined
  const from = describeBinding(recorded)
  const to = describeBinding(now)
  return {
    label: entry.label,
    upstream: entry.upstream,
    from,
    to,
    reason: `blocked: its upstream "${entry.upstream}" now points to ${to}, but the secret was stored for ${from} and is not sent anywhere else. Confirm with \`gptconv tokens add ${entry.label} --kind ${entry.kind} --force\` (re-add it) or \`gptconv upstreams set-url ${entry.upstream} URL --move-tokens\``,
  }
}
