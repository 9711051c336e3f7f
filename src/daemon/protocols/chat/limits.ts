import type {SseEvent} from '../../sse.js'
import type {StreamDecoder} from '../codec.js'
import type {ChatChunk} from './types.js'

/**
 * `stop` and `max_tokens` for upstreams that have neither (the ChatGPT web backend):
 * applied to the answer text as it streams. A stop sequence may arrive split over several
 * chunks, so the last (longest stop − 1) characters are held back until they cannot begin
 * one. `max_tokens` cuts at a token boundary of the model's encoding.
 */
export type Tokenizer = {encode(text: string): number[]; decode(tokens: number[]): string}

export type LimitResult = {text: string; finish?: 'stop' | 'length'}

export class TextLimiter {
  readonly #stops: string[]
  readonly #hold: number
  readonly #maxTokens: number | undefined
  readonly #tokenizer: Tokenizer | undefined
  #pending = ''
  #sent = ''
  #done = false

  constructor(options: {stop?: unknown; maxTokens?: unknown; tokenizer?: Tokenizer}) {
    const stop = options.stop
    this.#stops = (typeof stop === 'string' ? [stop] : Array.isArray(stop) ? stop : []).filter(
      (s): s is string => typeof s === 'string' && s !== '',
    )
    this.#hold = Math.max(0, ...this.#stops.map((s) => s.length - 1))
    const max = options.maxTokens
    this.#maxTokens = typeof max === 'number' && Number.isInteger(max) && max >= 0 ? max : undefined
    this.#tokenizer = this.#maxTokens === undefined ? undefined : options.tokenizer
  }

  /** Whether this limiter changes anything at all. */
  get active(): boolean {
    return this.#stops.length > 0 || this.#tokenizer !== undefined
  }

  get done(): boolean {
    return this.#done
  }

  /** Text that may go out now, and a finish reason once a limit is hit (then ignore further input). */
  push(delta: string): LimitResult {
    if (this.#done) return {text: ''}
    const buffer = this.#pending + delta
    let cut = -1
    for (const stop of this.#stops) {
      const at = buffer.indexOf(stop)
      if (at !== -1 && (cut === -1 || at < cut)) cut = at
    }

    if (cut !== -1) return this.#limit(buffer.slice(0, cut), 'stop')
    const ready = buffer.length - this.#hold
    this.#pending = ready > 0 ? buffer.slice(ready) : buffer
    return this.#out(ready > 0 ? buffer.slice(0, ready) : '')
  }

  /** The natural end of the answer: whatever is held back goes out (still within max_tokens). */
  end(): LimitResult {
    if (this.#done) return {text: ''}
    const rest = this.#pending
    this.#pending = ''
    const result = this.#out(rest)
    this.#done = true
    return result
  }

  #out(text: string): LimitResult {
    if (!this.#tokenizer || this.#maxTokens === undefined || text === '') return this.#send(text)
    const full = this.#sent + text
    const tokens = this.#tokenizer.encode(full)
    if (tokens.length <= this.#maxTokens) return this.#send(text)
    // decode a prefix of the tokens; back off while a multi-byte character is cut in half
    let keep = this.#maxTokens
    let allowed = this.#tokenizer.decode(tokens.slice(0, keep))
    while (keep > 0 && !full.startsWith(allowed)) allowed = this.#tokenizer.decode(tokens.slice(0, --keep))
    return this.#limit(allowed.length > this.#sent.length ? allowed.slice(this.#sent.length) : '', 'length', true)
  }

  #limit(text: string, finish: 'stop' | 'length', counted = false): LimitResult {
    const result = counted ? this.#send(text) : this.#out(text)
    if (result.finish) return result
    this.#done = true
    return {text: result.text, finish}
  }

  #send(text: string): LimitResult {
    this.#sent += text
    return {text}
  }
}

/**
 * `stop` and `max_tokens` applied by the daemon to a converted stream, for upstreams that
 * take neither (the ChatGPT plan's backend): the text of choice 0 goes through a
 * TextLimiter; when a limit ends the answer, a finish chunk (`stop` / `length`) follows and
 * `done` tells the caller to stop reading. Held-back text goes out before the upstream's
 * own finish.
 */
export class LimitedDecoder implements StreamDecoder {
  done = false

  constructor(
    private readonly inner: StreamDecoder,
    private readonly limiter: TextLimiter,
  ) {}

  process(events: readonly SseEvent[]): ChatChunk[] {
    return this.#limit(this.inner.process(events))
  }

  finish(): ChatChunk[] {
    return this.done ? [] : this.#limit(this.inner.finish())
  }

  #limit(chunks: ChatChunk[]): ChatChunk[] {
    if (!this.limiter.active || this.done) return this.done ? [] : chunks
    const out: ChatChunk[] = []
    for (const chunk of chunks) {
      const choice = chunk.choices[0]
      if (choice?.finish_reason) {
        const rest = this.limiter.end()
        if (rest.text) out.push({...chunk, choices: [{...choice, delta: {content: rest.text}, finish_reason: null}]})
        out.push(chunk)
        continue
      }

      if (!choice || typeof choice.delta.content !== 'string' || choice.delta.content === '') {
        out.push(chunk)
        continue
      }

      const {text, finish} = this.limiter.push(choice.delta.content)
      if (text) out.push({...chunk, choices: [{...choice, delta: {...choice.delta, content: text}}]})
      if (finish) {
        out.push({...chunk, choices: [{index: 0, delta: {}, logprobs: null, finish_reason: finish}]})
        this.done = true
        break
      }
    }

    return out
  }
}
