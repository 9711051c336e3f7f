import ora, {type Ora} from 'ora'

/** A spinner on stderr, only on a TTY and never under --json. */
export function spinner(enabled: boolean): Ora | undefined {
  return enabled && process.stderr.isTTY ? ora({stream: process.stderr}) : undefined
}
