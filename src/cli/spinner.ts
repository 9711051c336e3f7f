import ora from 'ora'

import {printable} from '../daemon/logger.js'
import {onInterrupt} from './signals.js'

/** What a command shows while it waits: one step at a time. */
export type Progress = {start(text: string): void; stop(): void}

/**
 * Whether a stream can draw a spinner: a terminal that reports a width. A terminal of 0
 * columns (`script` without a size, emacs shells, some CI consoles) makes ora's line
 * count infinite, and it then writes escape codes forever without yielding to signals.
 */
export function canAnimate(stream: NodeJS.WriteStream = process.stderr): boolean {
  return Boolean(stream.isTTY) && (stream.columns ?? 0) > 0 && process.env.TERM !== 'dumb' && !('CI' in process.env)
}

/**
 * Progress on stderr, never under --json (`enabled` false): a spinner where one can be
 * drawn, otherwise one plain line per step.
 */
export function spinner(enabled: boolean): Progress | undefined {
  if (!enabled) return undefined
  return canAnimate() ? animated() : {start: (text) => process.stderr.write(`${printable(text)}\n`), stop() {}}
}

function animated(): Progress {
  // stdin stays as it is: ora's discardStdin puts it in raw mode, where Ctrl-C is no signal
  const spin = ora({stream: process.stderr, discardStdin: false, isEnabled: true})
  let undo: (() => void) | undefined
  return {
    start(text) {
      undo ??= onInterrupt(() => spin.stop())
      spin.start(printable(text))
    },
    stop() {
      spin.stop()
      undo?.()
      undo = undefined
    },
  }
}
