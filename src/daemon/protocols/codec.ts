import type {SseEvent} from '../sse.js'
import type {ChatChunk, ChatUsage} from './chat/types.js'

/**
 * The seams of the protocol hub. Chat is the pivot: a client codec decodes its wire
 * format into chat requests and encodes chat answers back; an upstream adapter encodes
 * chat requests for its upstream and decodes the upstream's answers into chat. Codecs are
 * pure: no socket, no token, no secret; they keep per-request state in their own object.
 */

/** The client wire formats the daemon serves. */
export type Wire = 'chat' | 'completions' | 'responses' | 'messages'

/** An error as it goes in-band into a stream that has begun: the OpenAI error object and the status it would have had. */
export type WireError = {status: number; message: string; type: string; code: string | null; param: string | null}

/**
 * Pivot stream (chat chunks) → the client's wire text, for one client request. `push` gets
 * each batch of chunks an upstream read completed; `part` is the prompt index of requests
 * that fan out (legacy completions), else 0. An encoder either writes something for the
 * first chunk of a part or keeps no state from chunks it wrote nothing for: an attempt that
 * fails before anything reached the client is retried on another token with the same encoder.
 */
export interface StreamEncoder {
  push(chunks: readonly ChatChunk[], part: number): string
  /** every part finished; `usage` is the request's total (reported by the upstream, else estimated) */
  end(usage: ChatUsage): string
  /** the answer broke off after it began: the in-band error that ends the stream */
  fail(error: WireError): string
}

/** One upstream attempt's stream → pivot chunks. */
export interface StreamDecoder {
  /** the events one upstream read completed → the chunks they make */
  process(events: readonly SseEvent[]): ChatChunk[]
  /** the upstream ended: the chunks that follow (a finish chunk, usage); throws when the answer is incomplete */
  finish(): ChatChunk[]
  /** the answer is complete before the upstream's end (an emulated stop sequence or max_tokens): stop reading */
  readonly done: boolean
}

/**
 * Passthrough of a stream to a client of the same wire as the upstream: the events go on
 * unparsed but for what gptconv must know — the usage, and whether the answer finished.
 */
export interface Relay {
  process(events: readonly SseEvent[]): string
  /** the answer reached its proper end */
  readonly finished: boolean
  /** what ends the client's stream when the upstream's own end marker did not come */
  end(): string
  /** the usage the upstream reported, once seen */
  readonly usage: ChatUsage | undefined
  /** the answer's text so far (usage estimates when the upstream reports none) */
  text(): string
  /** the in-band error that ends the client's stream once it has begun */
  fail(error: WireError): string
  /** a relay that works on the upstream's bytes themselves (no SSE parse): each read's bytes → what goes on */
  bytes?(chunk: Buffer): Buffer | string
  /** the upstream ended: what is left (with `bytes`) */
  bytesEnd?(): Buffer | string
}
