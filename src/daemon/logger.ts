import {fstatSync} from 'node:fs'

import {pino} from 'pino'

import type {LogLevel} from '../core/config.js'
import {openAppend} from '../core/state-files.js'

export type Logger = pino.Logger

const LEVELS: Record<number, string> = {10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal'}
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname'])

// C0 and C1 controls, DEL, line and paragraph separators, and the bidi embeddings, overrides and
// isolates that reorder what a terminal shows ("Trojan Source", CVE-2021-42574)
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g
const NAMED: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}

/**
 * Text a client chose (model names, labels, upstream error messages) made safe to print:
 * every control character is shown as an escape (`\n`, `\x1b`, `\u202e`), so it can
 * neither forge a line nor reach the terminal as an ANSI or OSC sequence.
 */
export function printable(text: string): string {
  return text.replace(
    UNPRINTABLE,
    (c) =>
      NAMED[c] ??
      (c.charCodeAt(0) <= 0xff
        ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`
        : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  )
}

/**
 * One JSON log line as a human line: `12:00:01 WARN  message key=value …`. Values come from
 * clients (a model name, a path), so the line is printed with its control characters escaped.
 */
export function formatLogLine(line: string): string {
  let entry: unknown
  try {
    entry = JSON.parse(line)
  } catch {
    return printable(line)
  }

  return typeof entry === 'object' && entry !== null
    ? printable(humanLine(entry as Record<string, unknown>))
    : printable(line)
}

function humanLine(entry: Record<string, unknown>): string {
  const time =
    typeof entry.time === 'string' || typeof entry.time === 'number'
      ? new Date(entry.time).toLocaleTimeString('en-GB', {hour12: false})
      : ''
  const level = (LEVELS[entry.level as number] ?? String(entry.level)).toUpperCase().padEnd(5)
  const extras = Object.entries(entry)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  return [time, level, String(entry.msg ?? ''), ...extras].filter(Boolean).join(' ')
}

/** Whether a descriptor is a pipe or a socket (whose reader may be slow), not a file or a device. */
function streamsTo(fd: number): boolean {
  try {
    const stat = fstatSync(fd)
    return stat.isFIFO() || stat.isSocket()
  } catch {
    return true
  }
}

/**
 * pino, JSON lines to a file (or stdout); on a terminal, the same lines formatted for
 * humans.
 */
export function createLogger(options: {level: LogLevel; file?: string; pretty?: boolean}): Logger {
  // no redaction paths: gptconv never hands headers or secrets to the logger (the tests scan every line for them);
  // epoch-ms time and no pid/hostname keep the per-request line small (it is written on every request)
  const base = {level: options.level, base: null}
  if (options.pretty)
    return pino(base, {write: (line: string) => process.stdout.write(formatLogLine(line.trimEnd()) + '\n')})
  // to a file synchronously (a write to the page cache costs less than handing it to libuv's thread pool),
  // to a pipe or socket not (one read slowly must not stop the daemon); the log file is opened here: never
  // through a link, mode 0600
  const fd = options.file === undefined ? 1 : openAppend(options.file)
  const lines = new LineBatch(pino.destination({dest: fd, sync: !streamsTo(fd)}))
  setInterval(() => lines.flush(), FLUSH_MS).unref()
  if (batches.size === 0) process.once('exit', () => batches.forEach((batch) => batch.flushSync()))
  batches.add(lines)
  return pino(base, lines)
}

/** every batch of this process, written out at its exit */
const batches = new Set<LineBatch>()
const BATCH_BYTES = 4096
const FLUSH_MS = 250

/**
 * Log lines gathered up to 4 KiB (a write per request costs a syscall) and handed on in
 * one write, at least every 250 ms. In front of sonic-boom rather than its `minLength`:
 * that measures its whole gathered buffer on every line (a flatten of up to 4 KiB, most
 * of the garbage an access line left).
 */
class LineBatch {
  #pending = ''

  constructor(
    private readonly destination: pino.DestinationStream & {flush(cb?: () => void): void; flushSync(): void},
  ) {}

  write(line: string): void {
    this.#pending += line
    if (this.#pending.length >= BATCH_BYTES) this.#handOn()
  }

  /** pino's `logger.flush(cb)` */
  flush(cb?: (error?: Error) => void): void {
    this.#handOn()
    this.destination.flush(cb)
  }

  flushSync(): void {
    this.#handOn()
    try {
      this.destination.flushSync()
    } catch {
      // at exit, a log that cannot be written is lost, not the exit
    }
  }

  #handOn(): void {
    if (this.#pending === '') return
    this.destination.write(this.#pending)
    this.#pending = ''
  }
}

/** One finished request, as the access log shows it. */
export type AccessEntry = {
  id: string
  method: string
  path: string
  status: number
  ms: number
  token?: string
  model?: string
  attempts?: number
}

/**
 * The access line of one request, the JSON line pino would write for
 * `log.info(entry, 'request')`, built in one piece and handed to the logger's destination:
 * pino's serializer cost a few µs and ~4 KB of garbage per request. Strings a client chose
 * go through JSON.stringify (quotes, newlines, controls escaped).
 */
export function logAccess(log: Logger, entry: AccessEntry): void {
  if (!log.isLevelEnabled('info')) return
  let line = `{"level":30,"time":${Date.now()},"id":${JSON.stringify(entry.id)},"method":${JSON.stringify(entry.method)},"path":${JSON.stringify(entry.path)},"status":${entry.status},"ms":${entry.ms}`
  if (entry.token !== undefined) line += `,"token":${JSON.stringify(entry.token)}`
  if (entry.model !== undefined) line += `,"model":${JSON.stringify(entry.model)}`
  if (entry.attempts !== undefined) line += `,"attempts":${entry.attempts}`
  const destination = (log as unknown as Record<symbol, {write(line: string): void}>)[pino.symbols.streamSym]
  destination.write(line + ',"msg":"request"}\n')
}
