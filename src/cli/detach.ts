import {spawn} from 'node:child_process'
import {closeSync, existsSync, openSync, readFileSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath} from 'node:url'

import type {Context} from '../core/context.js'
import {type DaemonInfo, health, isAlive, readDaemonFile} from '../core/daemon-file.js'
import {GptconvError} from '../core/errors.js'
import {ensureStateDir} from '../core/paths.js'
import {formatLogLine} from '../daemon/logger.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

/**
 * Start `gptconv serve ARGS` in the background (its own session, output appended to the
 * log file) and return once its /healthz answers — or fail with the end of its log.
 */
export async function startDetached(ctx: Context, args: string[], timeoutMs = 20_000): Promise<DaemonInfo> {
  ensureStateDir(ctx.paths.dir)
  const log = openSync(ctx.paths.log, 'a', 0o600)
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--log-file', ctx.paths.log], {detached: true, stdio: ['ignore', log, log], env: process.env})
  closeSync(log)
  child.unref()
  let exited: number | null | undefined
  child.once('exit', (code) => (exited = code))

  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    await sleep(100)
    const info = readDaemonFile(ctx)
    if (info && info.pid === child.pid && (await health(info.origin))) return info
    if (exited !== undefined || (child.pid !== undefined && !isAlive(child.pid))) break
  }

  throw new GptconvError('GPTCONV_DAEMON_START', `The daemon did not become healthy${exited === undefined ? ` within ${timeoutMs / 1000} s` : ` (it exited with code ${exited})`}. Its log ends with:\n${tail(ctx.paths.log, 8)}`, {
    hint: 'Run `gptconv serve` in the foreground to see what goes wrong.',
  })
}

export function tail(path: string, lines: number): string {
  if (!existsSync(path)) return '(no log)'
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `  ${formatLogLine(l)}`).join('\n')
}
