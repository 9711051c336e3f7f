import {timingSafeEqual} from 'node:crypto'
import type {IncomingMessage} from 'node:http'
import {isIP} from 'node:net'

import {isLoopback} from '../core/net.js'
import {ApiError} from './errors.js'

/**
 * Safe defaults (docs/architecture.md §10): a DNS-rebinding page reaches 127.0.0.1 under its own host name,
 * so the Host header must be a loopback name, an IP literal (beyond loopback: a loopback
 * address or the one the request arrived at) or a configured host; a
 * browser page sends Origin, which must be configured; every API request carries the
 * local client key.
 */

/** The host name of a Host header, without port or brackets, lower-cased. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase()
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'))
  const colon = h.lastIndexOf(':')
  return colon !== -1 && /^\d+$/.test(h.slice(colon + 1)) ? h.slice(0, colon) : h
}

/**
 * On loopback, any IP literal is fine (a rebinding page reaches the daemon only under a
 * name). Listening beyond loopback (`remote`), an IP literal must be a loopback address or
 * the address the connection arrived at: the daemon answers for its own addresses and the
 * names in server.allowedHosts, not for whatever a client claims.
 */
export function checkHost(req: IncomingMessage, allowedHosts: readonly string[], remote = false): void {
  const host = req.headers.host
  if (host === undefined) return
  const name = hostName(host)
  if (name === 'localhost' || name.endsWith('.localhost')) return
  if (isIP(name) !== 0 && (!remote || isLoopback(name) || name === arrivedAt(req))) return
  if (allowedHosts.some((allowed) => hostName(allowed) === name)) return
  const answers = remote
    ? 'loopback names and addresses, the address a request arrived at'
    : 'loopback names, IP addresses'
  throw new ApiError(
    403,
    'host_not_allowed',
    `Host "${name}" is not allowed. gptconv answers only to ${answers} and the hosts in server.allowedHosts (gptconv config set server.allowedHosts ${name}).`,
    {type: 'invalid_request_error'},
  )
}

/** The local address a request came in on, as a Host header would name it (no IPv4-mapped prefix). */
function arrivedAt(req: IncomingMessage): string | undefined {
  return req.socket.localAddress?.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '')
}

const normalizeOrigin = (origin: string) => origin.trim().toLowerCase().replace(/\/+$/, '')

/** The request's Origin when it is allowed, undefined when there is none; throws for a foreign one. */
export function checkOrigin(req: IncomingMessage, allowedOrigins: readonly string[]): string | undefined {
  const origin = req.headers.origin
  if (origin === undefined) return undefined
  const normalized = normalizeOrigin(origin)
  if (allowedOrigins.some((allowed) => allowed === '*' || normalizeOrigin(allowed) === normalized)) return origin
  throw new ApiError(
    403,
    'origin_not_allowed',
    `Browser origin "${origin}" is not allowed. Allow it with: gptconv config set server.allowedOrigins ${normalized}`,
    {type: 'invalid_request_error'},
  )
}

export const EXPOSED_HEADERS =
  'x-request-id, openai-processing-ms, openai-version, openai-organization, x-ratelimit-limit-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-requests, x-ratelimit-remaining-tokens, x-ratelimit-reset-requests, x-ratelimit-reset-tokens, retry-after'

export function corsHeaders(origin: string): Record<string, string> {
  return {'access-control-allow-origin': origin, vary: 'Origin', 'access-control-expose-headers': EXPOSED_HEADERS}
}

export function preflightHeaders(req: IncomingMessage, origin: string): Record<string, string> {
  return {
    ...corsHeaders(origin),
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'authorization, content-type',
    'access-control-max-age': '600',
  }
}

/** The client key as `Authorization: Bearer <key>`, or as `x-api-key` (what Anthropic's clients send; Claude Code sends one or the other). */
export function checkClientKey(req: IncomingMessage, clientKey: string): void {
  const header = req.headers.authorization
  const apiKey = req.headers['x-api-key']
  const presented =
    header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1] ??
    (typeof apiKey === 'string' && apiKey !== '' ? apiKey.trim() : undefined)
  if (!presented) {
    throw new ApiError(
      401,
      'missing_api_key',
      'No client key: send "Authorization: Bearer <key>". `eval "$(gptconv env)"` sets OPENAI_API_KEY for you.',
      {type: 'invalid_request_error'},
    )
  }

  const a = Buffer.from(presented)
  const b = keyBytes(clientKey)
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new ApiError(
      401,
      'invalid_api_key',
      "Incorrect client key. Use the key printed by `gptconv env` (this is gptconv's local key, not an upstream key).",
      {type: 'invalid_request_error'},
    )
  }
}

let lastKey: {key: string; bytes: Buffer} | undefined

/** The client key's bytes, made once (the key is the same on every request). */
function keyBytes(key: string): Buffer {
  if (lastKey?.key !== key) lastKey = {key, bytes: Buffer.from(key)}
  return lastKey.bytes
}
