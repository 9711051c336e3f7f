import password from '@inquirer/password'

import {GptconvError, UsageError} from '../core/errors.js'

const STDIN_TIMEOUT_MS = 60_000

/**
 * Secrets never come from argv (shell history, `ps`): from `--from-env VAR`, from stdin
 * when it is piped, or from a hidden prompt on a TTY. Surrounding whitespace is dropped
 * (`echo "$KEY" |` works as well as `printf %s "$KEY" |`).
 */
export async function readSecretInput(options: {fromEnv?: string; what: string}): Promise<string> {
  if (options.fromEnv) {
    const value = process.env[options.fromEnv]
    if (value === undefined) throw new UsageError(`The environment variable ${options.fromEnv} is not set.`, {hint: `export ${options.fromEnv}=… first, or pipe the secret on stdin.`})
    return value.trim()
  }

  if (process.stdin.isTTY) {
    return password({message: `${options.what}:`, mask: false}, {output: process.stderr})
  }

  return (await readStdin()).trim()
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  const timer = setTimeout(() => process.stdin.destroy(new GptconvError('GPTCONV_SECRET_INPUT', `No secret arrived on stdin within ${STDIN_TIMEOUT_MS / 1000} s.`, {hint: 'Pipe it in, e.g. printf %s "$KEY" | gptconv tokens add …, or use --from-env VAR.'})), STDIN_TIMEOUT_MS)
  try {
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  } finally {
    clearTimeout(timer)
  }

  return Buffer.concat(chunks).toString('utf8')
}
