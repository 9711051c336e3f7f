import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {ROOT} from './cli.js'

const BIN = join(ROOT, 'bin/run.js')
/** Output kept for assertions; the rest is only counted (a runaway spinner writes hundreds of MB). */
const KEEP_BYTES = 256 * 1024

export type TerminalRun = {
  /** what the terminal showed so far (the first 256 KiB) */
  readonly output: () => string
  /** how many bytes the terminal showed in all */
  readonly bytes: () => number
  /** type on the terminal's keyboard (`\x03` is Ctrl-C) */
  readonly type: (text: string) => void
  /** send a signal to the CLI process itself */
  readonly signal: (signal: NodeJS.Signals) => Promise<void>
  /** resolves once `text` was shown, rejects after `timeoutMs` */
  readonly waitFor: (text: string, timeoutMs?: number) => Promise<void>
  /** the CLI's exit code (as `script -e` reports it), or 'timeout' when it had to be killed */
  readonly exit: Promise<number | 'timeout'>
}

export function scriptAvailable(): string | undefined {
  return existsSync('/usr/bin/script') && existsSync('/bin/stty')
    ? undefined
    : 'needs script(1) and stty(1) from util-linux / coreutils'
}

const quote = (s: string) => `'${s.replaceAll("'", String.raw`'\''`)}'`

/**
 * Run the built CLI on a pseudo-terminal of `columns` columns (`script -q -e`), its
 * keyboard a pipe the test types into. `stty cols 0` makes a terminal that reports 0
 * columns, as emacs shells and some CI consoles do. The CLI is killed after `timeoutMs`.
 */
export function runInTerminal(
  args: string[],
  options: {home: string; columns: number; env?: Record<string, string>; cwd?: string; timeoutMs?: number},
): TerminalRun {
  const pidFile = join(options.home, `.tty-${process.hrtime.bigint()}.pid`)
  const command = `stty cols ${options.columns} rows 24; echo $$ > ${quote(pidFile)}; exec ${[process.execPath, BIN, ...args].map((a) => quote(a)).join(' ')}`
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    SHELL: '/bin/sh',
    HOME: options.home,
    GPTCONV_HOME: options.home,
    GPTCONV_SECRET_STORE: 'file',
    NO_COLOR: '1',
    OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
    ...options.env,
  }
  const child: ChildProcess = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
    env,
    cwd: options.cwd,
    stdio: ['pipe', 'pipe', 'ignore'],
  })
  let kept = ''
  let total = 0
  child.stdout!.on('data', (chunk: Buffer) => {
    total += chunk.length
    if (kept.length < KEEP_BYTES) kept += chunk.toString('utf8').slice(0, KEEP_BYTES - kept.length)
  })
  const pid = async (): Promise<number> => {
    for (let i = 0; i < 200 && !existsSync(pidFile); i++) await sleep(25)
    return Number(readFileSync(pidFile, 'utf8').trim())
  }

  const exit = new Promise<number | 'timeout'>((resolve) => {
    const timer = setTimeout(async () => {
      try {
        process.kill(await pid(), 'SIGKILL')
      } catch {
        // gone already
      }

      child.kill('SIGKILL')
      resolve('timeout')
    }, options.timeoutMs ?? 20_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve(code ?? 1)
    })
  })
  const waitFor = async (text: string, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs
    while (!kept.includes(text)) {
      if (Date.now() > deadline)
        throw new Error(
          `the terminal did not show ${JSON.stringify(text)} within ${timeoutMs} ms; it shows:\n${kept.slice(-2000)}`,
        )
      await sleep(25)
    }
  }

  return {
    output: () => kept,
    bytes: () => total,
    type: (text) => child.stdin!.write(text),
    signal: async (signal) => void process.kill(await pid(), signal),
    waitFor,
    exit,
  }
}
