import {createHash} from 'node:crypto'
import {join} from 'node:path'
import lockfile from 'proper-lockfile'

import type {TokenEntry} from './config.js'
import type {Context} from './context.js'
import {errorMessage} from './errors.js'
import {ensureStateDir} from './paths.js'

/**
 * A lock per refresh-token token, shared by every gptconv process on this state directory
 * (proper-lockfile: a directory `refresh-<id>.lock` in the state directory while it is held): a refresh token works once, so only one
 * process at a time may read it, exchange it and store the new one. A holder that dies leaves
 * a lock that goes stale (its mtime stops being refreshed) and is taken over.
 */

const STALE_MS = 20_000
const POLL_MS = 200

export class TokenBusyError extends Error {}

export function tokenLockPath(ctx: Context, entry: Pick<TokenEntry, 'label' | 'addedAt'>): string {
  // labels may hold characters that are awkward in file names; the hash is stable per token
  const id = createHash('sha256').update(`${entry.label}\u0000${entry.addedAt}`).digest('hex').slice(0, 24)
  return join(ctx.paths.dir, `refresh-${id}`)
}

/** Run `fn` holding the token's lock; waits at most `waitMs` for it, then throws TokenBusyError. */
export async function withTokenLock<T>(
  ctx: Context,
  entry: Pick<TokenEntry, 'label' | 'addedAt'>,
  waitMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const path = tokenLockPath(ctx, entry)
  ensureStateDir(ctx.paths.dir)
  let release: () => Promise<void>
  try {
    release = await lockfile.lock(path, {
      realpath: false,
      stale: STALE_MS,
      retries: {retries: Math.max(0, Math.ceil(waitMs / POLL_MS)), factor: 1, minTimeout: POLL_MS, maxTimeout: POLL_MS},
      // the default throws from a timer (ending the process); a compromised lock is worth a warning
      onCompromised: (error) => ctx.warn(`The renewal lock of "${entry.label}" was lost: ${errorMessage(error)}`),
    })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED')
      throw new TokenBusyError(
        `another gptconv process has been renewing "${entry.label}" for over ${Math.round(waitMs / 1000)} s`,
      )
    throw error
  }

  try {
    return await fn()
  } finally {
    await release().catch(() => {})
  }
}
