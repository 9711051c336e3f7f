import {Transform, type TransformCallback} from 'node:stream'
import {pipeline} from 'node:stream/promises'

import {countChatPrompt, encodingFor} from '../../core/tokenizer.js'
import {chatChunksToCompletion} from '../protocols/openai-chat/aggregate.js'
import {TextLimiter, type Tokenizer} from '../protocols/openai-chat/limits.js'
import type {ChatChunk, ChatRequest} from '../protocols/openai-chat/types.js'
import {chatRequestToConversation, webModelSlug} from '../protocols/chatgpt-web/request.js'
import {type WebStreamState, conversationEventToChatChunks, endConversation, newWebStreamState} from '../protocols/chatgpt-web/stream.js'
import type {WebEvent} from '../protocols/chatgpt-web/types.js'
import {DONE, type SseEvent, SseParser} from '../sse.js'
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

  streamTransform(spec: CallSpec): Transform {
    return new WebToChat(spec)
  },

  /** Non-stream: fold the converted stream (one conversion path). Ends as soon as the answer does. */
  async readJson(body, spec) {
    const chunks: ChatChunk[] = []
    const converter = new WebToChat(spec)
    const ended = new Promise<void>((resolve, reject) => {
      converter.on('data', (event: SseEvent) => {
        if (event.data !== DONE) chunks.push(JSON.parse(event.data) as ChatChunk)
      })
      converter.once('end', resolve)
      converter.once('error', reject)
    })
    pipeline(body, new SseParser(), converter).catch(() => {}) // failures surface through `ended`
    await ended
    body.destroy() // a limit may have ended the answer early: stop the upstream
    if (!converter.finished) throw new Error('the conversation stream ended without an answer')
    const completion = chatChunksToCompletion(chunks, {id: converter.state.id, created: converter.state.created, model: spec.model})
    return {text: JSON.stringify(completion), json: completion}
  },
}

/** Web SSE events in, chat-format SSE events out (a role chunk, deltas, a finish chunk, an estimated usage chunk, [DONE]). */
class WebToChat extends Transform {
  readonly state: WebStreamState
  finished = false
  readonly #spec: CallSpec
  #limiter: TextLimiter | undefined
  #tokenizer: Promise<Tokenizer>
  #text = ''

  constructor(spec: CallSpec) {
    super({objectMode: true})
    this.#spec = spec
    this.state = newWebStreamState(spec.model)
    this.#tokenizer = encodingFor(spec.model)
  }

  override _transform(event: SseEvent, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.finished) {
      callback() // a limit ended the answer: the rest is ignored (call.ts cuts the upstream off)
      return
    }

    this.#handle(event).then(() => callback(), (error: unknown) => callback(error as Error))
  }

  override _flush(callback: TransformCallback): void {
    if (this.finished || this.state.messageId === undefined) {
      callback() // no answer at all: an empty stream, which the caller retries elsewhere
      return
    }

    if (this.state.finish === undefined) {
      callback(new Error('the conversation stream ended before its answer finished'))
      return
    }

    this.#finish(endConversation(this.state)).then(() => callback(), (error: unknown) => callback(error as Error))
  }

  async #handle(event: SseEvent): Promise<void> {
    if (!this.#limiter) {
      const body = this.#spec.body
      this.#limiter = new TextLimiter({stop: body.stop, maxTokens: body.max_completion_tokens ?? body.max_tokens, tokenizer: await this.#tokenizer})
    }

    if (event.data === DONE) {
      await this.#finish(endConversation(this.state))
      return
    }

    let parsed: WebEvent | string
    try {
      parsed = JSON.parse(event.data) as WebEvent | string
    } catch {
      return // not JSON (some backends send bare status lines): nothing for the client
    }

    const chunks = conversationEventToChatChunks(parsed, this.state)
    await (this.state.ended ? this.#finish(chunks) : this.#send(chunks))
  }

  /** Relay chunks through the stop / max_tokens limiter; ends the answer when a limit is hit. */
  async #send(chunks: ChatChunk[]): Promise<boolean> {
    for (const chunk of chunks) {
      const choice = chunk.choices[0]
      if (!choice || choice.finish_reason) continue // the finish chunk is ours to write
      if (typeof choice.delta.content !== 'string' || choice.delta.content === '') {
        this.#emit(chunk)
        continue
      }

      const {text, finish} = this.#limiter!.push(choice.delta.content)
      if (text) this.#emit({...chunk, choices: [{...choice, delta: {content: text}}]})
      if (finish) {
        await this.#end(finish)
        return true
      }
    }

    return false
  }

  async #finish(chunks: ChatChunk[]): Promise<void> {
    if (await this.#send(chunks)) return
    const rest = this.#limiter!.end()
    if (rest.text) this.#emit(this.#chunk({content: rest.text}))
    await this.#end(rest.finish ?? this.state.finish ?? 'stop')
  }

  /** The finish chunk, an estimated usage chunk, [DONE], and the end of the converted stream. */
  async #end(finish: string): Promise<void> {
    if (this.finished) return
    this.finished = true
    this.#emit(this.#chunk({}, finish))
    const prompt = await countChatPrompt(this.#spec.body.messages, this.#spec.model)
    const completion = (await this.#tokenizer).encode(this.#text).length
    this.push({data: JSON.stringify({...this.#chunk({}), choices: [], usage: {prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion}})})
    this.push({data: DONE})
    this.push(null)
  }

  #chunk(delta: ChatChunk['choices'][number]['delta'], finish: string | null = null): ChatChunk {
    return {id: this.state.id, object: 'chat.completion.chunk', created: this.state.created, model: this.state.model, choices: [{index: 0, delta, logprobs: null, finish_reason: finish as ChatChunk['choices'][number]['finish_reason']}]}
  }

  #emit(chunk: ChatChunk): void {
    const content = chunk.choices[0]?.delta.content
    if (typeof content === 'string') this.#text += content
    this.push({data: JSON.stringify(chunk)})
  }
}
