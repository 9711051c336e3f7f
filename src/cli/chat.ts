import {Readable} from 'node:stream'
import {pino} from 'pino'

import {clientKey} from '../core/client-key.js'
import type {Context} from '../core/context.js'
import {apiUrl, runningDaemon} from '../core/daemon-file.js'
import {GptconvError} from '../core/errors.js'
import {formatLogLine} from '../daemon/logger.js'
import {startDaemon} from '../daemon/server.js'
import {DONE, type SseEvent, SseParser} from '../daemon/sse.js'

export type ChatOptions = {
  prompt: string
  model: string
  session?: string
  system?: string
  stream: boolean
  reset?: boolean
}
export type ChatAnswer = {
  model: string
  content: string
  finish_reason: string | null
  usage: {prompt_tokens: number; completion_tokens: number; total_tokens: number} | null
  session: string | null
  via: 'daemon' | 'in-process'
}

/**
 * One chat request for `gptconv chat`: through the running daemon, or — when none runs —
 * through a daemon started in this process on a free loopback port for the one request
 * (same pool, tokens, sessions file and ledger). `onText` gets the answer as it streams.
 */
export async function chatOnce(
  ctx: Context,
  options: ChatOptions,
  onText: (text: string) => void,
): Promise<ChatAnswer> {
  const running = await runningDaemon(ctx)
  let origin: string
  let key: string | undefined
  let close: (() => Promise<void>) | undefined
  const {apiPrefix} = ctx.config.read().server
  if (running) {
    origin = running.info.origin
    key = await clientKey(ctx, {create: false})
  } else {
    // its failures reach the user as the command's error; only its own errors are worth a line on stderr
    const log = pino(
      {level: 'error', base: {}},
      {write: (line: string) => process.stderr.write(formatLogLine(line.trimEnd()) + '\n')},
    )
    const daemon = await startDaemon({ctx, log, host: '127.0.0.1', port: 0})
    origin = daemon.url
    key = daemon.state.clientKey
    close = () => daemon.close()
  }

  try {
    const headers: Record<string, string> = {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      ...(options.session && {'x-session-id': options.session}),
    }
    if (options.reset && options.session)
      await fetch(`${origin}/session/${encodeURIComponent(options.session)}`, {method: 'DELETE', headers})
    const messages = [
      ...(options.system ? [{role: 'system', content: options.system}] : []),
      {role: 'user', content: options.prompt},
    ]
    const res = await fetch(`${apiUrl(origin, apiPrefix)}/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        model: options.model,
        messages,
        ...(options.stream && {stream: true, stream_options: {include_usage: true}}),
      }),
    })
    if (!res.ok) throw await failure(res)
    const answer = options.stream ? await readStream(res, onText) : await readWhole(res)
    return {...answer, session: options.session ?? null, via: running ? 'daemon' : 'in-process'}
  } finally {
    await close?.()
  }
}

async function failure(res: Response): Promise<GptconvError> {
  let message = `HTTP ${res.status}`
  try {
    message = ((await res.json()) as {error?: {message?: string}}).error?.message ?? message
  } catch {
    // not an error envelope
  }

  return new GptconvError('GPTCONV_CHAT_FAILED', message, {
    hint: res.status === 401 ? 'The client key changed? `gptconv env` shows the current one.' : undefined,
  })
}

type Partial = Omit<ChatAnswer, 'session' | 'via'>

async function readWhole(res: Response): Promise<Partial> {
  const body = (await res.json()) as {
    model: string
    choices: Array<{message: {content: string | null}; finish_reason: string | null}>
    usage?: Partial['usage']
  }
  return {
    model: body.model,
    content: body.choices[0]?.message.content ?? '',
    finish_reason: body.choices[0]?.finish_reason ?? null,
    usage: body.usage ?? null,
  }
}

async function readStream(res: Response, onText: (text: string) => void): Promise<Partial> {
  const answer: Partial = {model: '', content: '', finish_reason: null, usage: null}
  const parser = new SseParser()
  for await (const event of events(Readable.fromWeb(res.body as never), parser)) {
    if (event.data === DONE) return answer
    const chunk = JSON.parse(event.data) as {
      model?: string
      error?: {message?: string}
      choices?: Array<{delta?: {content?: string | null}; finish_reason?: string | null}>
      usage?: Partial['usage']
    }
    if (chunk.error)
      throw new GptconvError('GPTCONV_CHAT_FAILED', `The answer broke off: ${chunk.error.message ?? 'unknown error'}`)
    answer.model ||= chunk.model ?? ''
    if (chunk.usage) answer.usage = chunk.usage
    const choice = chunk.choices?.[0]
    if (choice?.finish_reason) answer.finish_reason = choice.finish_reason
    const text = choice?.delta?.content
    if (text) {
      answer.content += text
      onText(text)
    }
  }

  throw new GptconvError('GPTCONV_CHAT_FAILED', 'The answer broke off: the stream ended early.')
}

async function* events(body: Readable, parser: SseParser): AsyncGenerator<SseEvent> {
  for await (const chunk of body) yield* parser.push(chunk as Buffer)
  yield* parser.end()
}
