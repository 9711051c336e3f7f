import envPaths from 'env-paths'
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'

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

/** The state directory holds secrets in file mode: owner only. */
export function ensureStateDir(dir: string): void {
  mkdirSync(dir, {recursive: true, mode: 0o700})
}
