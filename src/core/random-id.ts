import {randomBytes} from 'node:crypto'

/** Random bytes drawn for many ids at once: one call into the system's random source per POOL bytes, not one per id. */
const POOL = 4096
let pool = Buffer.alloc(0)
let at = 0

/**
 * The random part of an id (a response, a completion, a message): `bytes` random bytes as
 * hex or base64url. Ids are made on every request, and a call for 15 random bytes cost ~15
 * µs; drawing from a pool refilled 4 KiB at a time costs almost nothing. Not for secrets:
 * those are drawn on their own.
 */
export function randomId(bytes: number, encoding: 'hex' | 'base64url'): string {
  if (at + bytes > pool.length) {
    pool = randomBytes(Math.max(POOL, bytes))
    at = 0
  }

  const id = pool.toString(encoding, at, at + bytes)
  at += bytes
  return id
}
