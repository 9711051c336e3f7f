import {type ChildProcess, spawn} from 'node:child_process'
import {closeSync, existsSync, readFileSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath} from 'node:url'

import type {Context} from '../core/context.js'
import {type DaemonInfo, health, isAlive, readDaemonFile} from '../core/daemon-file.js'
import {GptconvError} from '../core/errors.js'
import {ensureStateDir} from '../core/paths.js'
import {openAppend} from '../core/state-files.js'
import {formatLogLine} from '../daemon/logger.js'
import type {DaemonLaunch} from '../daemon/main.js'
import {passSignalsOn} from './signals.js'

/**
 * V8 flags of the daemon process, chosen with `npm run bench` on 2 shared cores:
 * - a young generation of at most 4 MiB per semi-space: what survives a scavenge is what
 *   costs, and that is the requests in flight, so smaller semi-spaces cost little more CPU
 *   and keep the heap (and RSS under a burst of streams) ~15 MB smaller than 8 MiB;
 * - scavenges on the main thread only (`--no-parallel-scavenge`): waking helper threads for
 *   each small scavenge cost more CPU than it saved where the daemon shares a few cores with
 *   its clients (2 cores: ~10–20% of the daemon's CPU per request). Old-generation marking
 *   stays concurrent (turning it off too grew the heap by 40 MB);
 * - an old generation allowed to grow by a factor of 2 between major collections
 *   (`--heap-growing-percent=100`; V8 otherwise lets it grow up to 4× when collections are
 *   cheap): under load, what scavenges promote is mostly requests that ended soon after, and
 *   the old generation V8 grew for them stayed with the process after the burst. Peak RSS
 *   under 64 streams 175–185 → 117–127 MB, and 1,000 open streams after a burst 150–197 →
 *   134–138 MB, at no CPU cost the bench could measure;
 * - `gc()` for the idle collection that returns memory after a burst (idle-collector.ts).
 * GPTCONV_DAEMON_FLAGS overrides them (for measuring).
 */
export const DAEMON_NODE_FLAGS = (
  process.env.GPTCONV_DAEMON_FLAGS ??
  '--max-semi-space-size=4 --no-parallel-scavenge --heap-growing-percent=100 --expose-gc'
)
  .split(' ')
  .filter(Boolean)

/** The daemon entry point, built (dist) or, under bin/dev.js, from source through tsx. */
function entry(): string[] {
  const url = new URL('../daemon/main.js', import.meta.url)
  if (existsSync(fileURLToPath(url))) return [...DAEMON_NODE_FLAGS, fileURLToPath(url)]
  return [...DAEMON_NODE_FLAGS, '--import', 'tsx', fileURLToPath(new URL('../daemon/main.ts', import.meta.url))]
}

/**
 * Node cannot raise its own open-file limit (it has no setrlimit), and each open stream
 * holds two sockets: many shells' soft limit of 1,024 would stop the daemon at about 500
 * streams, and a flood of half-open connections sooner. On POSIX systems the daemon is
 * started through /bin/sh, which raises the soft limit as far as the hard limit allows (up
 * to 65,536) and then becomes the daemon (`exec`: the same process, the same pid). The
 * daemon keeps its connection cap below whatever limit it gets (connections.ts).
 */
const RAISE_FILE_LIMIT =
  'n=$(ulimit -n); h=$(ulimit -Hn); if [ "$n" != unlimited ]; then if [ "$h" = unlimited ] || [ "$h" -ge 65536 ]; then t=65536; else t=$h; fi; if [ "$n" -lt "$t" ]; then ulimit -n "$t" 2>/dev/null; fi; fi; exec "$@"'

/** The command that runs the daemon: node with its entry point, through the shell that raises the file limit. */
function daemonCommand(): {file: string; args: string[]} {
  if (process.platform === 'win32') return {file: process.execPath, args: entry()}
  return {file: '/bin/sh', args: ['-c', RAISE_FILE_LIMIT, 'gptconv-daemon', process.execPath, ...entry()]}
}

function daemonEnv(options: DaemonLaunch): NodeJS.ProcessEnv {
  return {...process.env, GPTCONV_DAEMON_OPTIONS: JSON.stringify(options)}
}

/** Run the daemon on this terminal; signals are passed on; resolves with its exit code. */
export function runForeground(options: DaemonLaunch): Promise<number> {
  const {file, args} = daemonCommand()
  const child: ChildProcess = spawn(file, args, {stdio: 'inherit', env: daemonEnv({...options, banner: true})})
  const forward = (signal: NodeJS.Signals) => child.kill(signal)
  const undo = passSignalsOn()
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      process.off('SIGINT', forward)
      process.off('SIGTERM', forward)
      undo()
      resolve(code ?? (signal ? 1 : 0))
    })
  })
}

/**
 * Start the daemon in the background (its own session, output appended to the log file)
 * and return once its /healthz answers — or fail with the end of its log.
 */
export async function startDetached(ctx: Context, options: DaemonLaunch, timeoutMs = 20_000): Promise<DaemonInfo> {
  ensureStateDir(ctx.paths.dir)
  const log = openAppend(ctx.paths.log)
  const {file, args} = daemonCommand()
  const child = spawn(file, args, {
    detached: true,
    stdio: ['ignore', log, log],
    env: daemonEnv({...options, logFile: ctx.paths.log}),
  })
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

  throw new GptconvError(
    'GPTCONV_DAEMON_START',
    `The daemon did not become healthy${exited === undefined ? ` within ${timeoutMs / 1000} s` : ` (it exited with code ${exited})`}. Its log ends with:\n${tail(ctx.paths.log, 8)}`,
    {
      hint: `Run \`${options.invocation ?? 'gptconv'} serve\` in the foreground to see what goes wrong.`,
    },
  )
}

export function tail(path: string, lines: number): string {
  if (!existsSync(path)) return '(no log)'
  return readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((l) => `  ${formatLogLine(l)}`)
    .join('\n')
}
