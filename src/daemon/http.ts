import {STATUS_CODES, type IncomingMessage, type ServerResponse} from 'node:http'
import type {Duplex} from 'node:stream'

import {ApiError, badRequest, toOpenAIError} from './errors.js'
import {MAX_DEPTH, scanJson} from './json-shape.js'

const decoder = new TextDecoder('utf-8', {fatal: true})

/**
 * Read a JSON request body of at most `limit` bytes. Too big → 413 (checked against
 * Content-Length first, then while reading); not UTF-8 or not JSON → 400.
 */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'])
  if (declared > limit) {
    await discard(req, limit)
    throw tooLarge(limit)
  }

  const {chunks, size} = await collect(req, limit)

  if (size === 0) throw new ApiError(400, 'invalid_json', 'The request body is empty; send a JSON object.')
  let text: string
  try {
    text = decoder.decode(Buffer.concat(chunks, size))
  } catch {
    throw new ApiError(400, 'invalid_json', 'The request body is not valid UTF-8.')
  }

  const shape = scanJson(text)
  if (shape.depth > MAX_DEPTH)
    throw new ApiError(400, 'invalid_json', `The request body is nested deeper than ${MAX_DEPTH} levels.`)
  let parsed: unknown
  try {
    parsed = JSON.parse(text) as unknown
  } catch (error) {
    throw new ApiError(400, 'invalid_json', `The request body is not valid JSON: ${(error as Error).message}.`)
  }

  // JSON.parse keeps the last of two equal keys, but the raw body goes upstream as it is, and
  // an upstream that keeps the first would serve what gptconv never checked (a model the token may not use)
  if (shape.duplicate !== undefined)
    throw new ApiError(
      400,
      'duplicate_key',
      `The request body has the key ${JSON.stringify(shape.duplicate)} more than once; send each key once.`,
      {param: shape.duplicate},
    )
  if (typeof parsed === 'object' && parsed !== null) (parsed as Record<symbol, RawBody>)[RAW] = {of: parsed, text}
  return parsed
}

/**
 * The text a body was parsed from, under a symbol key: JSON.stringify and Object.entries
 * never see it. A copy made by spreading carries the same record, whose `of` is the
 * original: so the text is found for the parsed object only. (A WeakMap cost an identity
 * hash and an ephemeron entry per request, ~2 µs in the profile, and work in every scavenge.)
 */
const RAW = Symbol('raw body')
type RawBody = {of: object; text: string}

/** The exact text a request body was parsed from, while it is the same object: an upstream that gets it unchanged need not have it serialized again. */
export function rawBodyOf(body: object): string | undefined {
  const raw = (body as Record<symbol, RawBody | undefined>)[RAW]
  return raw?.of === body ? raw.text : undefined
}

/** The body's chunks, with events rather than an async iterator (this runs on every request). */
function collect(req: IncomingMessage, limit: number): Promise<{chunks: Buffer[]; size: number}> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onEnd = () => resolve({chunks, size})
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
      else {
        req.off('data', onData)
        req.off('end', onEnd)
        void discard(req, limit).then(() => reject(tooLarge(limit)))
      }
    }

    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', reject)
  })
}

/** How long, and how much more, a body that is too large is read and thrown away before the 413 goes out. */
const DISCARD_MS = 10_000
const DISCARD_FACTOR = 4

/**
 * Read the rest of a body that is too large, and throw it away: a client that writes its
 * whole body before it reads gets its 413 instead of a reset connection (the answer closes
 * the connection, and closing it while the client still writes resets it). Bounded in time
 * and bytes, so a client cannot keep the daemon reading.
 */
function discard(req: IncomingMessage, limit: number): Promise<void> {
  if (req.complete) return Promise.resolve()
  return new Promise((resolve) => {
    let seen = 0
    const finish = () => {
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', finish)
      req.off('error', finish)
      req.off('close', finish)
      resolve()
    }

    const onData = (chunk: Buffer) => {
      seen += chunk.length
      if (seen > limit * DISCARD_FACTOR) finish()
    }

    const timer = setTimeout(finish, DISCARD_MS)
    req.on('data', onData)
    req.once('end', finish)
    req.once('error', finish)
    req.once('close', finish)
    req.resume()
  })
}

function tooLarge(limit: number): ApiError {
  return new ApiError(
    413,
    'request_too_large',
    `The request body is larger than the limit of ${limit} bytes (server.bodyLimitBytes).`,
    {headers: {connection: 'close'}},
  )
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
  res.writeHead(status, {...headers, 'content-type': 'application/json', 'content-length': String(payload.length)})
  res.end(payload)
}

/** What Node's HTTP parser refused before any handler ran, as the error a client is told. */
export function clientErrorOf(err: Error & {code?: string}): ApiError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError(
        431,
        'request_header_too_large',
        'The request line and headers are too large (the limit is 16 KiB); send long values in the body.',
      )
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError(408, 'request_timeout', 'The request was not received in time.')
    default:
      return new ApiError(400, 'invalid_http', `The request is not valid HTTP/1.1 (${err.code ?? 'parse error'}).`)
  }
}

/**
 * The server's `clientError` handler: the OpenAI error envelope instead of Node's bare status
 * line, written only when no response has started on the socket (as Node's own handler does).
 */
export function answerClientError(err: Error & {code?: string}, socket: Duplex): void {
  // `_httpMessage` is the response in flight on this socket (Node's own clientError default reads it too)
  const inFlight = (socket as Duplex & {_httpMessage?: {headersSent?: boolean}})._httpMessage
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy()
    return
  }

  const {status, body} = toOpenAIError(clientErrorOf(err))
  const text = JSON.stringify(body)
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n`
  socket.end(head + text)
  // a peer that never reads must not hold the socket open
  setTimeout(() => socket.destroy(), 1000).unref()
}

/** The `X-Session-Id` header, checked. */
export function sessionHeader(req: IncomingMessage): string | undefined {
  const value = req.headers['x-session-id']
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0 || value.length > 256 || /\p{Cc}/u.test(value))
    throw badRequest('`X-Session-Id` must be 1 to 256 printable characters.', 'x-session-id')
  return value
}

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
} as const

/** One upstream attempt's way to the client: `wrote` tells whether anything reached it. */
export type AttemptWriter = {
  readonly wrote: boolean
  /**
   * Write text (nothing for ''); false when the client cannot take more yet: `wake` runs
   * once it drained (or closed). Throws once the client connection is closed.
   */
  write(text: string | Buffer, wake: () => void): boolean
}

/**
 * Where a streamed answer goes: the client's response. Each upstream attempt writes
 * through a writer of its own; the first write of any attempt sends the status and
 * headers — from then on the answer has begun and cannot move to another token. What is
 * written in one turn of the event loop (the upstream reads of one poll, and the end when
 * the upstream ended in them) leaves as one chunk in one syscall, in the turn's check
 * phase: Node frames and queues every `write` of a chunked response on its own, and an
 * upstream that sends each event in a segment of its own would cost that per event.
 */
export class ResponseTarget {
  /** what this turn wrote, not yet handed to the response */
  #pending: Array<string | Buffer> = []
  #pendingBytes = 0
  #scheduled = false
  /** writers waiting for the response to drain: one `drain` and one `close` listener for all of them */
  #waiting: Array<() => void> = []
  #listening = false

  constructor(
    readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
  ) {}

  writer(upstreamHeaders: Record<string, string>): AttemptWriter {
    return new TargetWriter(this, upstreamHeaders)
  }

  /** One attempt's write (TargetWriter). */
  send(writer: TargetWriter, text: string | Buffer, wake: () => void): boolean {
    const {res} = this
    if (text.length === 0) return true
    if (res.destroyed) throw new Error('client connection closed')
    if (!res.headersSent) res.writeHead(200, {...this.headers, ...writer.upstreamHeaders, ...SSE_HEADERS})
    writer.wrote = true
    this.#pending.push(text)
    this.#pendingBytes += text.length
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#flush)
    }

    if (this.#pendingBytes < HIGH_WATER && !res.writableNeedDrain) return true
    this.#wait(wake)
    return false
  }

  /** The end of the answer: what is pending and `text` leave together, and the response ends. */
  end(text: string | Buffer = ''): void {
    if (text.length > 0) this.#pending.push(text)
    const rest = this.#take()
    if (!this.res.destroyed) this.res.end(rest)
  }

  readonly #flush = () => {
    this.#scheduled = false
    const text = this.#take()
    if (text === '' || this.res.destroyed || this.res.writableEnded) return
    // a client that keeps up: the writers that wait for room (a turn past HIGH_WATER) go on at once
    if (this.res.write(text)) this.#wakeAll()
  }

  /** What is pending, as one string or buffer. */
  #take(): string | Buffer {
    const parts = this.#pending
    if (parts.length === 0) return ''
    this.#pending = []
    this.#pendingBytes = 0
    if (parts.length === 1) return parts[0]
    if (parts.every((p) => typeof p === 'string')) return parts.join('')
    return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)))
  }

  #wait(wake: () => void): void {
    this.#waiting.push(wake)
    if (this.#listening) return
    this.#listening = true
    this.res.on('drain', this.#wakeAll)
    this.res.once('close', this.#wakeAll)
  }

  readonly #wakeAll = () => {
    const waiting = this.#waiting
    if (waiting.length === 0) return
    this.#waiting = []
    for (const w of waiting) w()
  }
}

/** A turn's writes beyond this many bytes wait for the client (backpressure), as a full socket does. */
const HIGH_WATER = 64 * 1024

/** One upstream attempt's writer: `wrote` turns true with its first write that reaches the client. */
class TargetWriter implements AttemptWriter {
  wrote = false

  constructor(
    private readonly target: ResponseTarget,
    readonly upstreamHeaders: Record<string, string>,
  ) {}

  write(text: string | Buffer, wake: () => void): boolean {
    return this.target.send(this, text, wake)
  }
}

/** A plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
