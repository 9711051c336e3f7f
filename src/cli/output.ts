import chalk from 'chalk'
import {stripVTControlCharacters} from 'node:util'

/** A plain aligned table; cells may carry colors. */
export function table(headers: string[], rows: string[][]): string {
  const width = (s: string) => stripVTControlCharacters(s).length
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))))
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i] - width(c)))).join('  ').trimEnd()
  return [line(headers.map((h) => chalk.bold(h))), ...rows.map((r) => line(r))].join('\n')
}

export function relativeTime(iso: string | null, now = Date.now()): string {
  if (!iso) return '-'
  const ms = Date.parse(iso) - now
  const abs = Math.abs(ms)
  const [n, unit] = abs < 60_000 ? [abs / 1000, 's'] : abs < 3_600_000 ? [abs / 60_000, 'min'] : abs < 86_400_000 ? [abs / 3_600_000, 'h'] : [abs / 86_400_000, 'd']
  const amount = `${Math.round(n)} ${unit}`
  return ms >= 0 ? `in ${amount}` : `${amount} ago`
}
