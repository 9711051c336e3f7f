import {Errors} from '@oclif/core'
import {stripVTControlCharacters} from 'node:util'

import {GptconvError} from '../core/errors.js'
import {printable} from '../daemon/logger.js'
import {SECRET_HINT, scrubSecrets} from './redact.js'

/** An error as the user sees it: on stderr, or as `{"error": …}` with --json. */
export type ErrorReport = {message: string; code?: string; hint?: string; exit: number}

type FlagShape = {description?: string; helpValue?: string | string[]; options?: readonly string[]}
type ArgShape = {description?: string; name?: string}

/** What a command says about itself, for hints on how to call it. */
export type CommandShape = {
  bin: string
  id?: string
  flags?: Record<string, FlagShape>
  examples?: Array<string | {command: string}>
}

const SEE_HELP = /\n?See more help with --help\s*$/

/**
 * The report of any error a command ends with. oclif's parser errors are reworded to say
 * what is missing or wrong and how to give it, and every word that looks like a secret
 * is masked (it was typed as an argument: the hint says to pipe it on stdin instead).
 */
export function describeError(err: unknown, shape: CommandShape): ErrorReport {
  const report =
    err instanceof GptconvError
      ? {message: err.message, code: err.code, hint: err.hint, exit: err.exitCode}
      : parseErrorReport(err, shape)
  const message = scrubSecrets(report.message)
  const hint = report.hint === undefined ? undefined : scrubSecrets(report.hint)
  if (message === report.message && hint === report.hint) return report
  return {...report, message, hint: SECRET_HINT}
}

function parseErrorReport(err: unknown, shape: CommandShape): ErrorReport {
  const e = err as Error & {oclif?: {exit?: number}; code?: unknown; args?: ArgShape[]}
  const exit = err instanceof Errors.CLIError && typeof e.oclif?.exit === 'number' ? e.oclif.exit : 1
  const code = exit === 2 ? 'GPTCONV_USAGE' : typeof e.code === 'string' ? e.code : undefined
  const raw = stripVTControlCharacters(e.message ?? String(err)).replace(SEE_HELP, '')
  const help = shape.id ? `see \`${shape.bin} ${shape.id.replaceAll(':', ' ')} --help\`` : `see \`${shape.bin} --help\``
  const example = firstExample(shape)
  const withHelp = (hint?: string) => (hint ? `${hint}; ${help}.` : `${help[0].toUpperCase()}${help.slice(1)}.`)
  const eg = example ? `, e.g. ${example}` : ''
  const missingFlags = [...raw.matchAll(/Missing required flag (\S+)/g)].map((m) => m[1])
  if (missingFlags.length > 0) {
    const how = missingFlags.map((name) => `--${name} ${valueOf(shape.flags?.[name])}`).join(' ')
    const only = missingFlags.length === 1 ? shape.flags?.[missingFlags[0]]?.description : undefined
    const message =
      missingFlags.length === 1
        ? `Missing the required flag --${missingFlags[0]}${only ? `: ${only}` : ''}.`
        : `Missing the required flags ${missingFlags.map((n) => `--${n}`).join(' and ')}.`
    return {message, code, hint: withHelp(`Give ${missingFlags.length === 1 ? 'it' : 'them'} as ${how}${eg}`), exit}
  }

  if (Array.isArray(e.args) && /^Missing \d+ required arg/.test(raw)) {
    const names = e.args.map((a) => a.name ?? '')
    const only = e.args.length === 1 ? e.args[0].description : undefined
    return {
      message: `Missing the ${names.join(' and ')} argument${names.length > 1 ? 's' : ''}${only ? `: ${only}` : ''}.`,
      code,
      hint: withHelp(example ? `For example: ${example}` : undefined),
      exit,
    }
  }

  const parsing = /^Parsing --(\S+)\s*\n\s*([\s\S]*)$/.exec(raw)
  if (parsing)
    return {message: `Invalid value for --${parsing[1]}: ${sentence(parsing[2], true)}`, code, hint: withHelp(), exit}
  return {message: sentences(raw), code, hint: exit === 2 ? withHelp() : undefined, exit}
}

/** How a flag's value is written in a hint: its options, or its placeholder. */
function valueOf(flag: FlagShape | undefined): string {
  if (flag?.options?.length) return flag.options.join('|')
  return typeof flag?.helpValue === 'string' ? flag.helpValue : 'VALUE'
}

function firstExample(shape: CommandShape): string | undefined {
  const first = shape.examples?.[0]
  const command = typeof first === 'string' ? first : first?.command
  return command
    ?.replaceAll('<%= config.bin %>', shape.bin)
    .replaceAll('<%= command.id %>', (shape.id ?? '').replaceAll(':', ' '))
}

/** oclif's multi-line wording (a header, indented reasons) as whole sentences on one line. */
function sentences(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  const reasons = /^The following errors? occurred:$/.test(lines[0] ?? '') ? lines.slice(1) : lines
  return reasons.map((l) => sentence(l)).join(' ')
}

/** One sentence: ends with a full stop; `lower` starts it in lower case (after a colon). */
function sentence(text: string, lower = false): string {
  const t = text.trim().replaceAll(/\s*\n\s*/g, ' ')
  const start = lower && /^[A-Z][a-z]/.test(t) ? t[0].toLowerCase() + t.slice(1) : t
  return /[.!?:]$/.test(start) ? start : `${start}.`
}

/**
 * An error for the terminal: whole lines, never wrapped inside a sentence, control
 * characters escaped (a message may quote an upstream's text).
 */
export function renderError(report: ErrorReport): string {
  const lines = [
    `Error: ${report.message}`,
    ...(report.code && report.code !== 'GPTCONV_USAGE' ? [`Code: ${report.code}`] : []),
    ...(report.hint ? [`Try this: ${report.hint}`] : []),
  ]
  return (
    lines
      .map((line) =>
        line
          .split('\n')
          .map((part) => printable(part))
          .join('\n'),
      )
      .join('\n') + '\n'
  )
}
