import {Command, Errors} from '@oclif/core'
import chalk from 'chalk'

import {type Context, createContext} from '../core/context.js'
import {printable} from '../daemon/logger.js'
import {type CommandShape, type ErrorReport, describeError, renderError} from './errors.js'
import {endOnSignals} from './signals.js'

/**
 * Every gptconv command: `--json` on (one JSON document on stdout), errors with a stable
 * code and a "Try this:" hint, exit 1 on failure and 2 on usage errors — with or without
 * `--json` (oclif alone would exit 1 for parse errors under --json). SIGINT and SIGTERM
 * end it (signals.ts).
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

  /**
   * Every line a command prints: what a client chose may be in it, so control characters
   * other than line breaks and color codes are shown escaped — no OSC (titles, clipboard,
   * links), cursor movement or screen clearing reaches the terminal, whichever command
   * printed it. Tables and log lines escape line breaks too (output.ts, logger.ts).
   */
  public override log(message = '', ...args: unknown[]): void {
    super.log(terminalSafe(message), ...args)
  }

  public override async init(): Promise<void> {
    endOnSignals()
    await super.init()
  }

  /** Errors are printed here, whole (oclif would hard-wrap them at the terminal's width), then the command exits with their code. */
  protected override async catch(err: Error & {exitCode?: number}): Promise<void> {
    if (err instanceof Errors.ExitError) throw err // `this.exit(code)`: the command has said why
    // Ctrl-C at the hidden secret prompt
    if (err.name === 'ExitPromptError') this.exit(130)
    const report = describeError(err, this.shape())
    if (this.jsonEnabled()) {
      process.exitCode = report.exit
      this.logJson(jsonOf(report))
      return
    }

    process.stderr.write(renderError(report))
    this.exit(report.exit)
  }

  protected override toErrorJson(err: unknown): {error: ErrorReport} {
    return jsonOf(describeError(err, this.shape()))
  }

  private shape(): CommandShape {
    const ctor = this.ctor as typeof Command
    return {
      bin: this.config.bin,
      id: this.id,
      flags: ctor.flags as CommandShape['flags'],
      examples: ctor.examples as CommandShape['examples'],
    }
  }
}

// eslint-disable-next-line no-control-regex
const SGR = /(\u001B\[[\d;]*m)/

function terminalSafe(text: string): string {
  return text
    .split(SGR)
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part
            .split('\n')
            .map((line) => printable(line))
            .join('\n'),
    )
    .join('')
}

function jsonOf(report: ErrorReport): {error: ErrorReport} {
  return {
    error: {
      message: report.message,
      ...(report.code && {code: report.code}),
      ...(report.hint && {hint: report.hint}),
      exit: report.exit,
    },
  }
}
