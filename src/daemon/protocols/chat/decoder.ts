import type {SseEvent} from '../../sse.js'
import {DONE} from '../../sse.js'
import type {StreamDecoder} from '../codec.js'
import {UpstreamFormatError, UpstreamStreamError} from '../errors.js'
import type {ChatChunk, ChatCompletion} from './types.js'

/** An upstream's error object, shortened for a message. */
export function describeUpstreamError(error: unknown): string {
  const message = (error as {message?: unknown} | null)?.message
  return (typeof message === 'string' && message ? message : JSON.stringify(error)).slice(0, 300)
}

/**
 * A chat upstream's SSE stream → chat chunks (for a client whose wire is not chat). An
 * `error` event ends the answer with that error; the stream is complete once a choice
 * finished or `[DONE]` came.
 */
export class ChatDecoder implements StreamDecoder {
  readonly done = false
  #finished = false

  process(events: readonly SseEvent[]): ChatChunk[] {
    const out: ChatChunk[] = []
    for (const event of events) {
      if (event.data === DONE) {
        this.#finished = true
        continue
      }

      let chunk: ChatChunk & {error?: unknown}
      try {
        chunk = JSON.parse(event.data) as typeof chunk
      } catch {
        throw new UpstreamFormatError('The upstream sent a stream event that is not JSON.')
      }

      if (chunk.error)
        throw new UpstreamStreamError(
          `The upstream reported an error in the stream: ${describeUpstreamError(chunk.error)}`,
        )
      if (!Array.isArray(chunk.choices)) chunk.choices = []
      if (!this.#finished && chunk.choices.some((c) => c?.finish_reason)) this.#finished = true
      out.push(chunk)
    }

    return out
  }

  finish(): ChatChunk[] {
    if (!this.#finished) throw new UpstreamStreamError('the stream ended before the answer finished')
    return []
  }
}

/** A chat upstream's complete answer, checked for the parts gptconv reads. */
export function parseChatCompletion(text: string): ChatCompletion {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new UpstreamFormatError('The upstream answered 200 with a body that is not JSON.')
  }

  if (!Array.isArray((json as {choices?: unknown} | null)?.choices))
    throw new UpstreamFormatError('The upstream answered without choices.')
  return json as ChatCompletion
}
