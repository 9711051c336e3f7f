import {DONE, DONE_EVENT, type SseEvent, formatSse} from '../../sse.js'
import type {Relay, WireError} from '../codec.js'
import type {ChatUsage} from './types.js'

/** Keep at most this much raw stream text for usage estimates when the upstream reports no usage. */
export const KEEP_LIMIT = 1024 * 1024

/**
 * Passthrough of a chat (or legacy completions) stream to a client of the same wire: the
 * events go on as they came, unparsed — but for the usage chunk (gptconv always asks for
 * it), which is read and, when the client did not ask, dropped together with the
 * `"usage":null` fields that come with the other chunks. Notes whether the stream finished
 * properly.
 */
export class SseRelay implements Relay {
  usage: ChatUsage | undefined
  sawDone = false
  sawFinish = false
  /** raw data of each event, for estimating usage, until a usage chunk makes it pointless */
  kept: string[] | undefined = []
  #keptSize = 0

  constructor(private readonly wantUsage: boolean) {}

  process(events: readonly SseEvent[]): string {
    let out = ''
    for (const event of events) out += this.#relay(event.data)
    return out
  }

  /** The end of an answer that finished without its `[DONE]`. */
  end(): string {
    return this.sawDone ? '' : DONE_EVENT
  }

  get finished(): boolean {
    return this.sawDone || this.sawFinish
  }

  text(): string {
    return this.kept ? keptText(this.kept) : ''
  }

  fail(error: WireError): string {
    return chatStreamError(error)
  }

  /** One event as it goes to the client ('' to drop it). */
  #relay(input: string): string {
    let data = input
    if (data === DONE) {
      this.sawDone = true
      return DONE_EVENT
    }

    if (data.includes('"usage":{')) {
      const out = this.#takeUsage(data)
      if (out === undefined) return ''
      data = out
    } else if (!this.wantUsage && data.includes('"usage":null')) {
      data = data.replace(/,"usage":null|"usage":null,?/, '')
    }

    if (!this.sawFinish && data.includes('"finish_reason":"')) this.sawFinish = true
    if (this.kept) {
      this.#keptSize += data.length
      if (this.#keptSize > KEEP_LIMIT) this.kept = undefined
      else this.kept.push(data)
    }

    return formatSse(data)
  }

  /** The event's data to send on, or undefined to drop it. */
  #takeUsage(data: string): string | undefined {
    const taken = takeUsage(data, this.wantUsage)
    if (taken.usage) {
      this.usage = taken.usage
      this.kept = undefined
    }

    return taken.data
  }
}

/**
 * A chunk with a usage object: the usage it reports, and its data as it goes on — the same
 * string when unchanged, undefined to drop it (the usage-only chunk a client did not ask
 * for), else the chunk without its usage.
 */
export function takeUsage(data: string, wantUsage: boolean): {usage?: ChatUsage; data: string | undefined} {
  let chunk: {usage?: ChatUsage; choices?: unknown[]}
  try {
    chunk = JSON.parse(data) as typeof chunk
  } catch {
    return {data}
  }

  const usage = typeof chunk.usage?.prompt_tokens === 'number' ? chunk.usage : undefined
  if (wantUsage) return {usage, data}
  if (!chunk.choices || chunk.choices.length === 0) return {usage, data: undefined}
  delete chunk.usage
  return {usage, data: JSON.stringify(chunk)}
}

/** Text of all `delta.content` in chat chunks (of one choice index, or all). */
export function keptText(kept: readonly string[], index?: number): string {
  let text = ''
  for (const data of kept) {
    try {
      for (const choice of (JSON.parse(data) as {choices?: Array<{index?: number; delta?: {content?: unknown}}>})
        .choices ?? []) {
        if (typeof choice.delta?.content === 'string' && (index === undefined || choice.index === index))
          text += choice.delta.content
      }
    } catch {
      // not JSON: nothing to count
    }
  }

  return text
}

/** The in-band error that ends a chat or legacy stream once it has begun: one `data: {"error": …}` event. */
export function chatStreamError(error: WireError): string {
  return formatSse(
    JSON.stringify({error: {message: error.message, type: error.type, param: error.param, code: error.code}}),
  )
}
