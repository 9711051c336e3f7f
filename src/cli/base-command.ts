import {Command, Errors} from '@oclif/core'
import chalk from 'chalk'

import {type Context, createContext} from '../core/context.js'
import {GptconvError} from '../core/errors.js'

/**
 * Every gptconv command: `--json` on (one JSON document on stdout), errors with a stable
 * code and a "Try this:" hint, exit 1 on failure and 2 on usage errors — with or without
 * `--json` (oclif alone would exit 1 for parse errors under --json).
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  /** The core context; warnings go to stderr (never into --json stdout). */
  protected context(): Context {
    return createContext({warn: (message) => this.warnUser(message)})
  }

  protected warnUser(message: string): void {
    process.stderr.write(`${chalk.yellow('Warning:')} ${message}\n`)
  }

  protected override async catch(err: Error & {exitCode?: number}): Promise<void> {
    const exit = exitCodeOf(err)
    if (this.jsonEnabled()) {
      process.exitCode = exit
      this.logJson(this.toErrorJson(err))
      return
    }

    if (err instanceof GptconvError) {
      throw new Errors.CLIError(err.message, {code: err.code, exit, suggestions: err.hint ? [err.hint] : undefined})
    }

    throw err
  }

  protected override toErrorJson(err: unknown): {error: {message: string; code?: string; hint?: string; exit: number}} {
    const e = err as {message?: string; code?: string; hint?: string}
    return {error: {message: e.message ?? String(err), ...(e.code && {code: e.code}), ...(e.hint && {hint: e.hint}), exit: exitCodeOf(err)}}
  }
}

function exitCodeOf(err: unknown): number {
  if (err instanceof GptconvError) return err.exitCode
  const oclif = (err as {oclif?: {exit?: number}}).oclif
  if (err instanceof Errors.CLIError && typeof oclif?.exit === 'number') return oclif.exit
  return 1
}
