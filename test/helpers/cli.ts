import {execFile} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

export const ROOT = resolve(import.meta.dirname, '../..')
const BIN = join(ROOT, 'bin/run.js')

export type CliResult = {code: number; stdout: string; stderr: string}

/** A throwaway state directory; removed by `cleanup()`. */
export function tempHome(prefix = 'gptconv-test-'): {dir: string; cleanup: () => void} {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return {dir, cleanup: () => rmSync(dir, {recursive: true, force: true})}
}

/**
 * Run the built CLI as a child process (the real manifest and dist). The environment
 * is built from scratch: no D-Bus unless `env` brings a private one, so the developer's
 * keychain is out of reach, and the file store unless a test asks for the keychain.
 */
export function runCli(
  args: string[],
  options: {home: string; env?: Record<string, string | undefined>; input?: string; timeoutMs?: number},
): Promise<CliResult> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: options.home,
    GPTCONV_HOME: options.home,
    GPTCONV_SECRET_STORE: 'file',
    GPTCONV_KEYCHAIN_SERVICE: process.env.GPTCONV_KEYCHAIN_SERVICE ?? `gptconv-test-${process.pid}`,
    NO_COLOR: '1',
    OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
    OCLIF_COLUMNS: '400',
  }
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }

  return new Promise((resolvePromise) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      {env, timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024},
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
        resolvePromise({code, stdout, stderr})
      },
    )
    child.stdin?.end(options.input ?? '')
  })
}
