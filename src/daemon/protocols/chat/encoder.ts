import {DONE_EVENT, formatSse} from '../../sse.js'
import type {StreamEncoder, WireError} from '../codec.js'
import {chatStreamError} from './relay.js'
import type {ChatChunk, ChatUsage} from './types.js'

/**
 * Pivot chunks → a chat client's stream, for answers that came through a converter (an
 * upstream that does not speak chat). The usage chunk reaches the client only when it asked
 * (`stream_options.include_usage`) — and then always, with the estimate when the upstream
 * reported none; `[DONE]` ends the stream.
 */
export class ChatEncoder implements StreamEncoder {
  #sawUsage = false
  #last: ChatChunk | undefined

  constructor(private readonly wantUsage: boolean) {}

  push(chunks: readonly ChatChunk[]): string {
    let out = ''
    for (const chunk of chunks) {
      this.#last = chunk
      if (chunk.usage) this.#sawUsage = true
      if (this.wantUsage || chunk.usage === undefined) {
        out += formatSse(JSON.stringify(chunk))
        continue
      }

      if (chunk.choices.length === 0) continue // the usage chunk the client did not ask for
      const {usage: _usage, ...rest} = chunk
      out += formatSse(JSON.stringify(rest))
    }

    return out
  }

  end(usage: ChatUsage): string {
    if (!this.wantUsage || this.#sawUsage || !this.#last) return DONE_EVENT
    const {id, created, model, system_fingerprint} = this.#last
    const chunk: ChatChunk = {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      ...(system_fingerprint !== undefined && {system_fingerprint}),
      choices: [],
      usage,
    }
    return formatSse(JSON.stringify(chunk)) + DONE_EVENT
  }

  fail(error: WireError): string {
    return chatStreamError(error)
  }
}
