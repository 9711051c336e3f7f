import type {IncomingMessage, ServerResponse} from 'node:http'

import type {Cancellation} from './cancellation.js'
import type {Logger} from './logger.js'
import {ApiError} from './errors.js'
import type {DaemonState} from './state.js'

/** What a route handler gets for one request. */
export type RequestContext = {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly path: string
  readonly query: URLSearchParams
  readonly params: Readonly<Record<string, string>>
  /** aborted when the client goes away before the response is finished */
  readonly signal: Cancellation
  readonly requestId: string
  readonly daemon: DaemonState
  readonly log: Logger
  /** filled in by handlers for the access log and metrics */
  readonly meta: {token?: string; model?: string; attempts?: number}
}

export type Handler = (rc: RequestContext) => Promise<void>

/** How a route's errors are shaped: OpenAI's `{"error": {…}}` (the default), the `/session` API's `{code, message, data}`, or Anthropic's `{"type": "error", "error": {…}}`. */
export type Envelope = 'openai' | 'session' | 'anthropic'

export type Route = {
  name: string
  method: 'GET' | 'POST' | 'DELETE'
  pattern: string
  auth: boolean
  handler: Handler
  envelope?: Envelope
}

type Compiled = Route & {parts: string[]}

/**
 * A small method + path table. Paths are matched without the query string and with or
 * without a trailing slash; `:name` and `*name` segments become params. A known path with another
 * method is a 405 with Allow; anything else a 404 — both as OpenAI error envelopes.
 */
export class Router {
  readonly #routes: Compiled[]
  /** routes without params by method and path, for the common request (the rest goes through the table) */
  readonly #fixed = new Map<string, Route>()

  constructor(routes: Route[]) {
    this.#routes = routes.map((r) => ({...r, parts: split(r.pattern)}))
    for (const route of this.#routes) {
      const path = `/${route.parts.join('/')}`
      // only where the table gives the same answer (no route before it takes the path)
      if (!/[:*]/.test(route.pattern) && this.#table(route.method, path).route === route)
        this.#fixed.set(`${route.method} ${path}`, route)
    }
  }

  match(method: string, path: string): {route: Route; params: Record<string, string>} {
    const route = this.#fixed.get(`${method} ${path}`)
    return route ? {route, params: {}} : this.#table(method, path)
  }

  #table(method: string, path: string): {route: Route; params: Record<string, string>} {
    const parts = split(path)
    const allowed: string[] = []
    for (const route of this.#routes) {
      const params = matchParts(route.parts, parts)
      if (!params) continue
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return {route, params}
      allowed.push(route.method)
    }

    if (allowed.length > 0)
      throw new ApiError(
        405,
        'method_not_allowed',
        `${method} is not supported on ${path}; use ${allowed.join(' or ')}.`,
        {headers: {allow: allowed.join(', ')}},
      )
    throw new ApiError(404, 'unknown_url', `Unrecognized request URL (${method} ${path}).`)
  }
}

function split(path: string): string[] {
  return path.split('/').filter(Boolean)
}

/** `:name` matches one segment, `*name` (last) the rest of the path: model ids may contain slashes. */
function matchParts(pattern: string[], parts: string[]): Record<string, string> | undefined {
  const rest = pattern.at(-1)?.startsWith('*')
  if (rest ? parts.length < pattern.length : pattern.length !== parts.length) return undefined
  let params: Record<string, string> | undefined
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i].startsWith('*')) {
      try {
        ;(params ??= {})[pattern[i].slice(1)] = parts
          .slice(i)
          .map((p) => decodeURIComponent(p))
          .join('/')
      } catch {
        return undefined
      }
    } else if (pattern[i].startsWith(':')) {
      try {
        ;(params ??= {})[pattern[i].slice(1)] = decodeURIComponent(parts[i])
      } catch {
        return undefined
      }
    } else if (pattern[i] !== parts[i]) {
      return undefined
    }
  }

  return params ?? {}
}

/**
 * One request's context. A class, so that every request's context has the same shape (an
 * object literal with a getter is built property by property); the query string is parsed
 * when a route reads it (few do).
 */
export class RequestState implements RequestContext {
  params: Readonly<Record<string, string>> = {}
  readonly meta: RequestContext['meta'] = {}
  #query: URLSearchParams | undefined

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly path: string,
    private readonly search: string,
    readonly signal: Cancellation,
    readonly requestId: string,
    readonly daemon: DaemonState,
    readonly log: Logger,
  ) {}

  get query(): URLSearchParams {
    this.#query ??= new URLSearchParams(this.search)
    return this.#query
  }
}
