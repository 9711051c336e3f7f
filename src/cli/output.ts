import chalk from 'chalk'
import {stripVTControlCharacters} from 'node:util'

import {printable} from '../daemon/logger.js'

export {printable} from '../daemon/logger.js'

// The styles commands color whole cells with. A cell that is exactly one of them applied to
// plain text prints as it is; anything else has its escape sequences shown, not obeyed.
const STYLES = [chalk.bold, chalk.dim, chalk.red, chalk.green, chalk.yellow, chalk.cyan]

/**
 * A cell made safe to print. Cells carry text clients chose (model names, upstream error
 * messages): a newline would forge a row and ANSI/OSC sequences would reach the terminal.
 * A color the command itself put around the whole cell is kept: at worst a client gets its
 * own text printed in one of these colors.
 */
export function safeCell(cell: string): string {
  const plain = stripVTControlCharacters(cell)
  if (printable(plain) === plain && (cell === plain || STYLES.some((style) => style(plain) === cell))) return cell
  return printable(cell)
}

/** A plain aligned table; cells may carry colors (see safeCell). */
export function table(headers: string[], rows: string[][]): string {
  const safe = rows.map((r) => r.map((c) => safeCell(c)))
  const width = (s: string) => stripVTControlCharacters(s).length
  const widths = headers.map((h, i) => Math.max(width(h), ...safe.map((r) => width(r[i] ?? ''))))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i] - width(c))))
      .join('  ')
      .trimEnd()
  return [line(headers.map((h) => chalk.bold(h))), ...safe.map((r) => line(r))].join('\n')
}

export function relativeTime(iso: string | null, now = Date.now()): string {
  if (!iso) return '-'
  const ms = Date.parse(iso) - now
  const abs = Math.abs(ms)
  const [n, unit] =
    abs < 60_000
      ? [abs / 1000, 's']
      : abs < 3_600_000
        ? [abs / 60_000, 'min']
        : abs < 86_400_000
          ? [abs / 3_600_000, 'h']
          : [abs / 86_400_000, 'd']
  const amount = `${Math.round(n)} ${unit}`
  return ms >= 0 ? `in ${amount}` : `${amount} ago`
}
