import {existsSync, realpathSync} from 'node:fs'
import {isIP} from 'node:net'
import {delimiter, isAbsolute, join, relative} from 'node:path'

/**
 * A value inside single quotes for a POSIX shell, which takes everything there literally
 * except the closing quote: each `'` becomes `'\''` (close, an escaped quote, reopen).
 */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", String.raw`'\''`)}'`
}

/** A word as typed at a shell prompt: bare when it holds no special character, quoted otherwise. */
export function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : shellQuote(value)
}

// RFC 1123 host names (plus `_`, which container networks use), each label 1-63 characters
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z\d_](?:[A-Za-z\d_-]{0,61}[A-Za-z\d_])?(?:\.[A-Za-z\d_](?:[A-Za-z\d_-]{0,61}[A-Za-z\d_])?)*\.?$/

/** A host name or an IP literal (IPv6 with or without brackets), and nothing else. */
export function isHost(host: string): boolean {
  if (isIP(host) !== 0 || HOST_NAME.test(host)) return true
  return host.startsWith('[') && host.endsWith(']') && isIP(host.slice(1, -1)) === 6
}

function realpathOf(path: string): string | undefined {
  try {
    return realpathSync(path)
  } catch {
    return undefined
  }
}

/**
 * How the user can run this CLI again from where they are: `gptconv` once it is on PATH
 * (`npm link`) and is this very installation, otherwise the script that was run — relative
 * to the working directory when it lies below it (`./bin/run.js`), else its full path.
 */
export function invocation(script = process.argv[1], path = process.env.PATH ?? '', cwd = process.cwd()): string {
  if (!script) return 'gptconv'
  const self = realpathOf(script)
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'gptconv')
    if (!existsSync(candidate)) continue
    if (self !== undefined && realpathOf(candidate) === self) return 'gptconv'
    break // another gptconv comes first on PATH
  }

  const below = relative(cwd, script)
  return shellWord(below && !below.startsWith('..') && !isAbsolute(below) ? `./${below}` : script)
}
