import {constants} from 'node:os'

const cleanups = new Set<() => void>()
let passing = 0
let installed = false

/** Run `cleanup` (show the cursor again, …) when a signal ends the command; returns the undo. */
export function onInterrupt(cleanup: () => void): () => void {
  cleanups.add(cleanup)
  return () => cleanups.delete(cleanup)
}

/**
 * SIGINT and SIGTERM end every command at once, with the shell's exit code for the signal
 * (130, 143). Without a listener of our own a signal can go unanswered: a spinner reading
 * stdin in raw mode turns Ctrl-C into an event nobody listens to, and signal-exit (loaded
 * with proper-lockfile) only re-raises a signal when it alone listens.
 */
export function endOnSignals(): void {
  if (installed) return
  installed = true
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (passing > 0) return
      for (const cleanup of cleanups) {
        try {
          cleanup()
        } catch {
          // ending anyway
        }
      }

      process.exit(128 + constants.signals[signal])
    })
  }
}

/**
 * While `serve` runs the daemon on this terminal, the daemon decides when to end (it lets
 * open streams finish): signals are passed on to it, and this process ends when it does.
 * Returns the undo.
 */
export function passSignalsOn(): () => void {
  passing++
  let undone = false
  return () => {
    if (!undone) passing--
    undone = true
  }
}
