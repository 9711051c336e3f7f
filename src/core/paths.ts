import envPaths from 'env-paths'
import {chmodSync, lstatSync, mkdirSync, readlinkSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {GptconvError} from './errors.js'

export type Env = Readonly<Record<string, string | undefined>>

/**
 * All of gptconv's state lives in one directory: the platform's config directory for
 * gptconv (`~/.config/gptconv` on Linux), or `GPTCONV_HOME` when set. Config, the
 * file-store fallback for secrets, the daemon's runtime state, the usage ledger, the
 * pid and log files all live here.
 */
export function stateDir(env: Env = process.env): string {
  return env.GPTCONV_HOME || envPaths('gptconv', {suffix: ''}).config
}

export function statePaths(env: Env = process.env) {
  const dir = stateDir(env)
  return {
    dir,
    config: join(dir, 'config.json'),
    secrets: join(dir, 'secrets.json'),
    runtime: join(dir, 'state.json'),
    ledger: join(dir, 'usage.jsonl'),
    sessions: join(dir, 'sessions.json'),
    responses: join(dir, 'responses'),
    pid: join(dir, 'daemon.json'),
    log: join(dir, 'daemon.log'),
  } as const
}

export type StatePaths = ReturnType<typeof statePaths>

/** The state directory, or a file in it, is not safe to keep secrets in or to write through. */
export class UnsafeStateError extends GptconvError {
  constructor(message: string, hint: string) {
    super('GPTCONV_STATE_UNSAFE', message, {hint})
  }
}

const warnOnStderr = (message: string) => process.stderr.write(`Warning: ${message}\n`)

/**
 * The state directory holds secrets in file mode: it must be ours and closed to others.
 * Created 0700 when missing. One that exists with a mode open to the group or others (a
 * `GPTCONV_HOME` made by hand with 0777) is closed to 0700, with a warning; one owned by
 * another user is refused, since that user could read or swap every file in it. `uid` is
 * the owner to expect (the process's own; a parameter for tests).
 */
export function ensureStateDir(
  dir: string,
  warn: (message: string) => void = warnOnStderr,
  uid: number | undefined = process.getuid?.(),
): void {
  mkdirSync(dir, {recursive: true, mode: 0o700})
  // Windows has no owners or modes of this kind
  if (uid === undefined) return
  const stats = statSync(dir)
  if (!stats.isDirectory())
    throw new UnsafeStateError(
      `The state directory ${dir} is not a directory.`,
      'Point GPTCONV_HOME at a directory of your own.',
    )
  if (stats.uid !== uid) {
    throw new UnsafeStateError(
      `The state directory ${dir} belongs to another user (uid ${stats.uid}, not ${uid}); gptconv keeps secrets there and will not use it.`,
      'Use a directory of your own: export GPTCONV_HOME=~/.config/gptconv (or chown the directory to yourself).',
    )
  }

  if ((stats.mode & 0o077) !== 0) {
    chmodSync(dir, 0o700)
    warn(
      `The state directory ${dir} was open to other users (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}); gptconv made it 0700, since secrets live there.`,
    )
  }
}

/**
 * Refuse to write through a symbolic link in the state directory: a link planted as
 * `secrets.json`, `usage.jsonl` or `daemon.log` would send what gptconv writes to wherever
 * it points (a file others can read, or one gptconv must not overwrite).
 */
export function refuseSymlink(path: string): void {
  let target: string
  try {
    if (!lstatSync(path).isSymbolicLink()) return
    target = readlinkSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }

  throw symlinkError(path, target)
}

export function symlinkError(path: string, target?: string): UnsafeStateError {
  return new UnsafeStateError(
    `${path} is a symbolic link${target === undefined ? '' : ` (to ${target})`}; gptconv does not write its state through links.`,
    `Remove the link (rm ${path}); gptconv creates the file itself, mode 0600.`,
  )
}

/** Every state file and directory that must not be a link, checked at once (the daemon's start, `serve`). */
export function refuseSymlinks(paths: StatePaths): void {
  const names = ['config', 'secrets', 'runtime', 'ledger', 'sessions', 'responses', 'pid', 'log'] as const
  for (const name of names) refuseSymlink(paths[name])
  refuseSymlink(join(paths.dir, 'prices.json'))
}
