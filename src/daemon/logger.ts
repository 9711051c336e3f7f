import {pino} from 'pino'

import type {LogLevel} from '../core/config.js'

export type Logger = pino.Logger

const LEVELS: Record<number, string> = {10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal'}
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname'])

/** One JSON log line as a human line: `12:00:01 WARN  message key=value …`. */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }

  const time = typeof entry.time === 'string' || typeof entry.time === 'number' ? new Date(entry.time).toLocaleTimeString('en-GB', {hour12: false}) : ''
  const level = (LEVELS[entry.level as number] ?? String(entry.level)).toUpperCase().padEnd(5)
  const extras = Object.entries(entry)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  return [time, level, entry.msg ?? '', ...extras].filter(Boolean).join(' ')
}

/**
 * pino, JSON lines to a file (or stdout); on a terminal, the same lines formatted for
 * humans.
 */
export function createLogger(options: {level: LogLevel; file?: string; pretty?: boolean}): Logger {
  // no redaction paths: gptconv never hands headers or secrets to the logger (the tests scan every line for them);
  // epoch-ms time and no pid/hostname keep the per-request line small (it is written on every request)
  const base = {level: options.level, base: null}
  if (options.pretty) return pino(base, {write: (line: string) => process.stdout.write(formatLogLine(line.trimEnd()) + '\n')})
  // lines are gathered up to 4 KiB (a write per request costs a syscall) and flushed at least every 250 ms
  const destination = pino.destination({dest: options.file ?? 1, mkdir: Boolean(options.file), sync: false, minLength: 4096})
  setInterval(() => destination.flush(), 250).unref()
  return pino(base, destination)
}
