import type {Encoding} from '../../../core/tokenizer.js'
import {DONE, type SseEvent} from '../../sse.js'
import type {StreamDecoder} from '../codec.js'
import {TextLimiter} from '../chat/limits.js'
import type {ChatChunk, ChatDelta, ChatFinishReason, ChatRequest} from '../chat/types.js'
import {type WebStreamState, conversationEventToChatChunks, endConversation, newWebStreamState} from './stream.js'
import type {WebEvent} from './types.js'

/**
 * A ChatGPT web conversation stream → chat chunks: a role chunk, deltas and a finish chunk.
 * The web reports no usage: the daemon counts it with the tokenizer, as for any upstream
 * that reports none. `stop` and `max_tokens`, which the web lacks, are applied here to the
 * answer text; once a limit ends the answer, `done` tells the caller to stop reading.
 */
export class WebDecoder implements StreamDecoder {
  readonly state: WebStreamState
  done = false
  readonly #limiter: TextLimiter
  #out: ChatChunk[] = []

  constructor(chat: ChatRequest, model: string, encoding: Encoding) {
    this.state = newWebStreamState(model)
    this.#limiter = new TextLimiter({
      stop: chat.stop,
      maxTokens: chat.max_completion_tokens ?? chat.max_tokens,
      tokenizer: encoding,
    })
  }

  process(events: readonly SseEvent[]): ChatChunk[] {
    for (const event of events) {
      if (this.done) break // a limit ended the answer: the rest is ignored, and the upstream cut off
      if (event.data === DONE) {
        this.#finish(endConversation(this.state))
        continue
      }

      let parsed: WebEvent | string
      try {
        parsed = JSON.parse(event.data) as WebEvent | string
      } catch {
        continue // not JSON (some backends send bare status lines): nothing for the client
      }

      const chunks = conversationEventToChatChunks(parsed, this.state)
      if (this.state.ended) this.#finish(chunks)
      else this.#send(chunks)
    }

    return this.#take()
  }

  finish(): ChatChunk[] {
    if (this.done || this.state.messageId === undefined) return this.#take() // no answer at all: the caller retries elsewhere
    if (this.state.finish === undefined) throw new Error('the conversation stream ended before its answer finished')
    this.#finish(endConversation(this.state))
    return this.#take()
  }

  #take(): ChatChunk[] {
    const out = this.#out
    this.#out = []
    return out
  }

  /** Relay chunks through the stop / max_tokens limiter; true when a limit ended the answer. */
  #send(chunks: ChatChunk[]): boolean {
    for (const chunk of chunks) {
      const choice = chunk.choices[0]
      if (!choice || choice.finish_reason) continue // the finish chunk is ours to write
      if (typeof choice.delta.content !== 'string' || choice.delta.content === '') {
        this.#emit(chunk)
        continue
      }

      const {text, finish} = this.#limiter.push(choice.delta.content)
      if (text) this.#emit({...chunk, choices: [{...choice, delta: {content: text}}]})
      if (finish) {
        this.#end(finish)
        return true
      }
    }

    return false
  }

  #finish(chunks: ChatChunk[]): void {
    if (this.#send(chunks)) return
    const rest = this.#limiter.end()
    if (rest.text) this.#emit(this.#chunk({content: rest.text}))
    this.#end(rest.finish ?? this.state.finish ?? 'stop')
  }

  #end(finish: ChatFinishReason): void {
    if (this.done) return
    this.done = true
    this.#emit(this.#chunk({}, finish))
  }

  #chunk(delta: ChatDelta, finish: ChatFinishReason | null = null): ChatChunk {
    return {
      id: this.state.id,
      object: 'chat.completion.chunk',
      created: this.state.created,
      model: this.state.model,
      choices: [{index: 0, delta, logprobs: null, finish_reason: finish}],
    }
  }

  #emit(chunk: ChatChunk): void {
    this.#out.push(chunk)
  }
}
