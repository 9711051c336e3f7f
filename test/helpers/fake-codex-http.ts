import type {IncomingMessage, ServerResponse} from 'node:http'
import {setTimeout as sleep} from 'node:timers/promises'

/** Plumbing shared by the fake Codex auth server and the fake Codex backend. */

export type Json = Record<string, unknown>
export type Headers = Record<string, string | string[] | undefined>

/** One request being answered: `signal` aborts when the fake closes or the client goes away. */
export type Ctx = {req: IncomingMessage; res: ServerResponse; url: URL; at: number; signal: AbortSignal}

/** A complete non-stream answer, thrown from a handler and sent by `serve`. */
export class Reply extends Error {
  constructor(
    readonly status: number,
    readonly payload: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof payload === 'string' ? payload : JSON.stringify(payload))
  }
}

/** The backend's error shape: `{"detail": "…"}`. */
export const detail = (status: number, message: string, headers: Record<string, string> = {}) =>
  new Reply(status, {detail: message}, headers)

/** The auth server's error shape, as auth.openai.com answers a dead refresh token. */
export const authError = (status: number, code: string, message: string) =>
  new Reply(status, {error: {message, type: 'invalid_request_error', param: null, code}})

export function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function nowS(): number {
  return Math.floor(Date.now() / 1000)
}

export function bearer(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
  return match ? match[1] : undefined
}

/** A queue of faults or scripts: each entry serves `remaining` requests, first queued first used. */
export class Queue<T> {
  readonly #items: Array<{item: T; remaining: number; where: string}> = []

  push(item: T, times: number, where = '*'): void {
    if (!(Number.isInteger(times) && times > 0)) throw new Error(`times must be a positive integer, got ${times}`)
    this.#items.push({item, remaining: times, where})
  }

  /** The first entry for `where` (or for any place, '*'), used once. */
  take(where = '*'): T | undefined {
    const i = this.#items.findIndex((q) => q.where === where || q.where === '*')
    if (i === -1) return undefined
    const queued = this.#items[i]
    queued.remaining -= 1
    if (queued.remaining <= 0) this.#items.splice(i, 1)
    return queued.item
  }

  clear(): void {
    this.#items.length = 0
  }
}

/** Send a whole answer: strings verbatim (text/html when they start with `<`), anything else as JSON. */
export function send(ctx: Ctx, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  const {res} = ctx
  if (res.destroyed || res.headersSent) return
  const isText = typeof payload === 'string'
  const contentType = isText
    ? payload.trimStart().startsWith('<')
      ? 'text/html; charset=utf-8'
      : 'text/plain; charset=utf-8'
    : 'application/json'
  const body = Buffer.from(isText ? payload : JSON.stringify(payload), 'utf8')
  const extra: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) extra[k.toLowerCase()] = v
  res.writeHead(status, {'content-type': contentType, 'content-length': String(body.length), ...extra})
  res.end(body)
}

/** Wait `ms`; false when the fake is closing or the client went away. */
export async function pause(ctx: Ctx, ms: number): Promise<boolean> {
  if (ms > 0) {
    try {
      await sleep(ms, undefined, {signal: ctx.signal})
    } catch {
      return false
    }
  }
  return !ctx.res.destroyed && !ctx.signal.aborted
}

/** Close the connection without finishing the response (a cut stream, as a proxy dropping it). */
export function cut(ctx: Ctx): void {
  const socket = ctx.res.socket
  if (!socket) {
    ctx.res.destroy()
    return
  }
  socket.end(() => socket.destroy())
}

/**
 * The request handler of a fake: reads the body, calls `route`, sends a thrown `Reply`, and turns
 * any other error into a 500 that names the bug (or a cut connection once a stream has begun).
 */
export function serve(stopping: AbortSignal, route: (ctx: Ctx, text: string) => Promise<void>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    res.on('error', () => {})
    req.on('error', () => {})
    const gone = new AbortController()
    res.once('close', () => gone.abort())
    const ctx: Ctx = {
      req,
      res,
      url: new URL(req.url ?? '/', 'http://fake.invalid'),
      at: Date.now(),
      signal: AbortSignal.any([stopping, gone.signal]),
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      route(ctx, Buffer.concat(chunks).toString('utf8')).catch((error: unknown) => {
        if (error instanceof Reply) {
          send(ctx, error.status, error.payload, error.headers)
          return
        }
        if (res.headersSent) {
          res.destroy()
          return
        }
        send(ctx, 500, {
          detail: `fake Codex bug: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        })
      })
    })
  }
}

/** A JSON object body, or a 400 `{"detail"}` saying why not. */
export function jsonObject(text: string): Json {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw detail(400, 'The request body is not valid JSON.')
  }
  if (!isRecord(parsed)) throw detail(400, 'The request body must be a JSON object.')
  return parsed
}
