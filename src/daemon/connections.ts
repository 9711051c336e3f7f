import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {type RequestListener, type Server, createServer} from 'node:http'
import type {Socket} from 'node:net'

import type {Settings} from '../core/config.js'
import type {Logger} from './logger.js'

/**
 * The daemon's HTTP server: a client has `server.headersTimeoutMs` to send a request's
 * headers and `server.requestTimeoutMs` for the whole request; once a request is in, they
 * no longer apply (Node times only requests still arriving), so a long streamed answer is
 * not cut. Connections are capped by a ConnectionGuard, below the open-file limit.
 */
export function guardedServer(
  conf: Settings['server'],
  log: Logger,
  handler: RequestListener,
): {server: Server; guard: ConnectionGuard; maxConnections: number} {
  const maxConnections = connectionCap(conf.maxConnections, openFileLimit())
  if (maxConnections < conf.maxConnections) {
    log.warn(
      {maxConnections, configured: conf.maxConnections},
      `server.maxConnections is ${conf.maxConnections}, more than the open-file limit allows (each connection may hold an upstream socket too); at most ${maxConnections} are kept open. Raise the limit (ulimit -n) for more.`,
    )
  }

  const timeouts = {
    headersTimeout: Math.min(conf.headersTimeoutMs, conf.requestTimeoutMs),
    requestTimeout: conf.requestTimeoutMs,
    connectionsCheckingInterval: 1000,
  }
  const server = createServer({keepAliveTimeout: 65_000, ...timeouts}, handler)
  return {server, guard: new ConnectionGuard(server, maxConnections), maxConnections}
}

/**
 * At most `max` open client connections. A client that opens connections and never
 * finishes a request (slowloris: a few bytes of headers, then silence) must neither lock
 * the other clients out nor run the process out of file descriptors. When a new
 * connection would go past the cap, a connection with no request being answered is closed
 * to make room: first the oldest that never completed a request (half-open: a slowloris, or
 * a client that connected and said nothing), then the oldest idle between keep-alive
 * requests (its client reconnects, as it must when a server closes an idle connection).
 * Only when every connection is answering a request is the newcomer refused. Node's
 * headersTimeout ends half-open connections anyway; this bounds them meanwhile.
 */
export class ConnectionGuard {
  /** in order of arrival: the first one not busy is the oldest that may go */
  readonly #open = new Set<Socket>()
  readonly #busy = new Set<Socket>()
  /** connections that have had a request: a client that speaks HTTP */
  readonly #served = new WeakSet<Socket>()
  #closed = 0

  constructor(
    server: Server,
    readonly max: number,
  ) {
    server.on('connection', (socket: Socket) => this.#admit(socket))
  }

  /** Connections closed to make room (or refused) so far. */
  get closed(): number {
    return this.#closed
  }

  /** A request arrived on this connection (its headers are complete): it is not to be closed for room. */
  busy(socket: Socket): void {
    this.#served.add(socket)
    if (this.#open.has(socket)) this.#busy.add(socket)
  }

  /** Its answer is over: the connection idles until the next request. */
  idle(socket: Socket): void {
    this.#busy.delete(socket)
  }

  #admit(socket: Socket): void {
    this.#open.add(socket)
    socket.once('close', () => this.#forget(socket))
    if (this.#open.size <= this.max) return
    const idle = (old: Socket) => old !== socket && !this.#busy.has(old)
    const victim = this.#oldest((old) => idle(old) && !this.#served.has(old)) ?? this.#oldest(idle)
    this.#drop(victim ?? socket)
  }

  #oldest(test: (socket: Socket) => boolean): Socket | undefined {
    for (const socket of this.#open) if (test(socket)) return socket
    return undefined
  }

  #drop(socket: Socket): void {
    this.#forget(socket)
    this.#closed++
    socket.destroy()
  }

  #forget(socket: Socket): void {
    this.#open.delete(socket)
    this.#busy.delete(socket)
  }
}

/**
 * The soft limit on open files of this process: /proc on Linux, else what a shell started
 * from it reports (it inherits the limit). Undefined when it cannot be known (Windows).
 */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = line?.split(/\s{2,}/)[1]
    if (soft !== undefined) return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft)
  } catch {
    // not Linux
  }

  if (process.platform === 'win32') return undefined
  try {
    const soft = execFileSync('/bin/sh', ['-c', 'ulimit -n'], {encoding: 'utf8', timeout: 2000}).trim()
    return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft) || undefined
  } catch {
    return undefined
  }
}

/** Files the process holds besides client connections: node itself, the log, the ledger, the upstream pool's spare sockets. */
const RESERVED_FILES = 64

/**
 * The connection cap that fits the open-file limit: each client connection may hold an
 * upstream socket too (a streamed answer), so at most half of what is left after the
 * reserve; never below 16.
 */
export function connectionCap(configured: number, fileLimit: number | undefined): number {
  if (fileLimit === undefined || !Number.isFinite(fileLimit)) return configured
  return Math.min(configured, Math.max(16, Math.floor((fileLimit - RESERVED_FILES) / 2)))
}
