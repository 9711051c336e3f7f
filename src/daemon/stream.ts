import type {ServerResponse} from 'node:http'
import {Transform, type TransformCallback} from 'node:stream'

import {describeNetworkError} from '../core/upstream-check.js'
import {ApiError, toOpenAIError} from './errors.js'
import {DONE, DONE_EVENT, type SseEvent, formatSse} from './sse.js'

/** Keep at most this much raw stream text for usage estimates when the upstream reports no usage. */
const KEEP_LIMIT = 1024 * 1024

/**
 * Relays OpenAI SSE events (chat or legacy chunks) to the client as they arrive. Captures the usage chunk
 * (gptconv always asks for it) and strips it — and the `"usage":null` fields that come
 * with it — when the client did not ask. Notes whether the stream finished properly.
 */
export class SseRelay extends Transform {
  usage: {prompt_tokens: number; completion_tokens: number} | undefined
  sawDone = false
  sawFinish = false
  /** raw data of each event, for estimating usage, until a usage chunk makes it pointless */
  kept: string[] | undefined = []
  /** the text of choice 0, when asked to collect it (session memory) */
  text = ''
  #keptSize = 0

  constructor(
    private readonly wantUsage: boolean,
    private readonly collect = false,
  ) {
    super({writableObjectMode: true})
  }

  override _transform(event: SseEvent, _encoding: BufferEncoding, callback: TransformCallback): void {
    let {data} = event
    if (data === DONE) {
      this.sawDone = true
      callback(null, DONE_EVENT)
      return
    }

    if (data.includes('"usage":{')) {
      const out = this.#takeUsage(data)
      if (out === undefined) {
        callback()
        return
      }

      data = out
    } else if (!this.wantUsage && data.includes('"usage":null')) {
      data = data.replace(/,"usage":null|"usage":null,?/, '')
    }

    if (!this.sawFinish && data.includes('"finish_reason":"')) this.sawFinish = true
    if (this.collect && data.includes('"content"')) this.text += keptText([data], 0)
    if (this.kept) {
      this.#keptSize += data.length
      if (this.#keptSize > KEEP_LIMIT) this.kept = undefined
      else this.kept.push(data)
    }

    callback(null, formatSse(data))
  }

  /** The event's data to send on, or undefined to drop it. */
  #takeUsage(data: string): string | undefined {
    let chunk: {usage?: {prompt_tokens?: unknown; completion_tokens?: unknown}; choices?: unknown[]}
    try {
      chunk = JSON.parse(data) as typeof chunk
    } catch {
      return data
    }

    if (typeof chunk.usage?.prompt_tokens === 'number') {
      this.usage = {prompt_tokens: chunk.usage.prompt_tokens, completion_tokens: Number(chunk.usage.completion_tokens) || 0}
      this.kept = undefined
    }

    if (this.wantUsage) return data
    if (!chunk.choices || chunk.choices.length === 0) return undefined
    delete chunk.usage
    return JSON.stringify(chunk)
  }
}

/** Text of all `delta.content` in chat chunks (of one choice index, or all). */
export function keptText(kept: readonly string[], index?: number): string {
  let text = ''
  for (const data of kept) {
    try {
      for (const choice of (JSON.parse(data) as {choices?: Array<{index?: number; delta?: {content?: unknown}}>}).choices ?? []) {
        if (typeof choice.delta?.content === 'string' && (index === undefined || choice.index === index)) text += choice.delta.content
      }
    } catch {
      // not JSON: nothing to count
    }
  }

  return text
}

/** What a broken stream becomes on the wire. */
export function streamFailure(error: unknown, upstream: string): ApiError {
  if (error instanceof ApiError) return error
  const code = (error as {code?: string}).code
  if (code === 'UND_ERR_BODY_TIMEOUT') return new ApiError(504, 'upstream_timeout', `Upstream ${upstream} stopped sending in the middle of the answer (idle timeout).`, {type: 'server_error'})
  return new ApiError(502, 'upstream_stream_error', `Upstream ${upstream} broke off the answer: ${describeNetworkError(error)}.`, {type: 'server_error'})
}

/** After a stream has started, an error can only be sent in-band: one `data: {"error": …}` event, then the end. */
export function endWithError(res: ServerResponse, error: ApiError): void {
  if (!res.destroyed) res.end(formatSse(JSON.stringify(toOpenAIError(error).body)))
}
