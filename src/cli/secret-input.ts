import password from '@inquirer/password'

import {GptconvError, UsageError} from '../core/errors.js'
import {mask} from '../core/mask.js'
import {SECRET_HINT, looksLikeSecret} from './redact.js'

const STDIN_TIMEOUT_MS = 60_000
const ENV_NAME = /^[A-Za-z_]\w*$/

/**
 * Secrets never come from argv (shell history, `ps`): from `--from-env VAR`, from stdin
 * when it is piped, or from a hidden prompt on a TTY. Surrounding whitespace is dropped
 * (`echo "$KEY" |` works as well as `printf %s "$KEY" |`).
 */
export async function readSecretInput(options: {fromEnv?: string; what: string}): Promise<string> {
  if (options.fromEnv !== undefined) {
    const name = options.fromEnv
    // the value itself, typed where its name belongs: never echoed
    if (!ENV_NAME.test(name))
      throw new UsageError(
        '--from-env takes the name of an environment variable (letters, digits and _, not starting with a digit), not a value.',
        {hint: SECRET_HINT},
      )
    if (looksLikeSecret(name))
      throw new UsageError(
        `--from-env was given ${mask(name)}, which looks like a secret rather than the name of an environment variable.`,
        {hint: SECRET_HINT},
      )
    const value = process.env[name]
    if (value === undefined)
      throw new UsageError(`The environment variable ${name} is not set.`, {
        hint: `export ${name}=… first, or pipe the secret on stdin.`,
      })
    return value.trim()
  }

  if (process.stdin.isTTY) {
    return password({message: `${options.what}:`, mask: false}, {output: process.stderr})
  }

  return (await readStdin()).trim()
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  const timer = setTimeout(
    () =>
      process.stdin.destroy(
        new GptconvError('GPTCONV_SECRET_INPUT', `No secret arrived on stdin within ${STDIN_TIMEOUT_MS / 1000} s.`, {
          hint: 'Pipe it in, e.g. printf %s "$KEY" | gptconv tokens add …, or use --from-env VAR.',
        }),
      ),
    STDIN_TIMEOUT_MS,
  )
  try {
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  } finally {
    clearTimeout(timer)
  }

  return Buffer.concat(chunks).toString('utf8')
}
