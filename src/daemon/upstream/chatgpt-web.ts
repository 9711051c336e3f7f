import {countChatPromptWith, type Encoding, encodingFor} from '../../core/tokenizer.js'
import {chatChunksToCompletion} from '../protocols/chat/aggregate.js'
import {TextLimiter} from '../protocols/chat/limits.js'
import type {ChatChunk, ChatRequest} from '../protocols/chat/types.js'
import {chatRequestToConversation, webModelSlug} from '../protocols/chatgpt-web/request.js'
import {type WebStreamState, conversationEventToChatChunks, endConversation, newWebStreamState} from '../protocols/chatgpt-web/stream.js'
import type {WebEvent} from '../protocols/chatgpt-web/types.js'
import {DONE, type SseEvent, SseParser} from '../sse.js'
import type {EventStage} from '../stream.js'
import type {AdapterRequest, ProtocolAdapter} from './adapters.js'
import type {CallSpec, Served} from './call.js'
import {USER_AGENT} from './openai.js'

/**
 * ChatGPT web upstreams (protocols.md §5): a chat request becomes a new conversation at
 * `{baseUrl}/backend-api/conversation`, which always streams. Its events are converted to
 * chat chunks; `stop` and `max_tokens` (which the web lacks) are applied here; usage is
 * estimated with the tokenizer; non-stream answers fold the converted stream.
 */
export const chatgptWebAdapter: ProtocolAdapter = {
  estimatesUsage: true,

  request(spec: CallSpec, served: Served, secret: string): AdapterRequest {
    const headers: Record<string, string> = {authorization: `Bearer ${secret}`, 'user-agent': USER_AGENT, 'oai-language': 'en-US'}
    if (spec.endpoint === 'models') return {url: `${served.upstream.baseUrl}/backend-api/models`, method: 'GET', headers: {...headers, accept: 'application/json'}}
    const conversation = chatRequestToConversation(spec.body as ChatRequest, webModelSlug(spec.model, served.upstream.modelMap))
    return {url: `${served.upstream.baseUrl}/backend-api/conversation`, method: 'POST', headers: {...headers, accept: 'text/event-stream', 'content-type': 'application/json'}, body: JSON.stringify(conversation)}
  },

  async streamStage(spec: CallSpec): Promise<EventStage> {
    return new WebToChat(spec, await encodingFor(spec.model))
  },

  /** Non-stream: fold the converted stream (one conversion path); stops reading as soon as the answer ended. */
  async readJson(body, spec) {
    const converter = new WebToChat(spec, await encodingFor(spec.model))
    const parser = new SseParser()
    const events: SseEvent[] = []
    for await (const chunk of body) {
      events.push(...converter.process(parser.push(chunk as Buffer)))
      if (converter.done) break // leaving the loop destroys the body: the upstream is cut off
    }

    if (!converter.done) events.push(...converter.process(parser.end()), ...converter.finish())
    const chunks = events.filter((e) => e.data !== DONE).map((e) => JSON.parse(e.data) as ChatChunk)
    const completion = chatChunksToCompletion(chunks, {id: converter.state.id, created: converter.state.created, model: spec.model})
    return {text: JSON.stringify(completion), json: completion}
  },
}

/** Web SSE events in, chat-format SSE events out: a role chunk, deltas, a finish chunk, an estimated usage chunk, [DONE]. */
class WebToChat implements EventStage {
  readonly state: WebStreamState
  done = false
  readonly #spec: CallSpec
  readonly #limiter: TextLimiter
  readonly #encoding: Encoding
  #text = ''
  #out: SseEvent[] = []

  constructor(spec: CallSpec, encoding: Encoding) {
    this.#spec = spec
    this.#encoding = encoding
    this.state = newWebStreamState(spec.model)
    this.#limiter = new TextLimiter({stop: spec.body.stop, maxTokens: spec.body.max_completion_tokens ?? spec.body.max_tokens, tokenizer: encoding})
  }

  process(events: SseEvent[]): SseEvent[] {
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

  finish(): SseEvent[] {
    if (this.done || this.state.messageId === undefined) return this.#take() // no answer at all: the caller retries elsewhere
    if (this.state.finish === undefined) throw new Error('the conversation stream ended before its answer finished')
    this.#finish(endConversation(this.state))
    return this.#take()
  }

  #take(): SseEvent[] {
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

  /** The finish chunk, an estimated usage chunk, [DONE]. */
  #end(finish: string): void {
    if (this.done) return
    this.done = true
    this.#emit(this.#chunk({}, finish))
    const prompt = countChatPromptWith(this.#encoding, this.#spec.body.messages)
    const completion = this.#encoding.encode(this.#text).length
    this.#out.push({data: JSON.stringify({...this.#chunk({}), choices: [], usage: {prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion}})}, {data: DONE})
  }

  #chunk(delta: ChatChunk['choices'][number]['delta'], finish: string | null = null): ChatChunk {
    return {id: this.state.id, object: 'chat.completion.chunk', created: this.state.created, model: this.state.model, choices: [{index: 0, delta, logprobs: null, finish_reason: finish as ChatChunk['choices'][number]['finish_reason']}]}
  }

  #emit(chunk: ChatChunk): void {
    const content = chunk.choices[0]?.delta.content
    if (typeof content === 'string') this.#text += content
    this.#out.push({data: JSON.stringify(chunk)})
  }
}
