import {DONE_EVENT, formatSse} from '../../sse.js'
import type {StreamEncoder, WireError} from '../codec.js'
import {chatStreamError} from '../chat/relay.js'
import type {ChatChunk, ChatUsage} from '../chat/types.js'
import {chatChunkToLegacyChunks, legacyUsageChunk, newStreamState, type LegacyStreamState} from './from-chat.js'
import type {LegacyCompletion, LegacyPlan} from './types.js'

/**
 * Pivot chunks of each prompt (`part`) → one legacy `text_completion` stream: choice index
 * `prompt_idx * n + k`, one id and `created` for all, the echoed prompt in a choice's first
 * chunk. Usage chunks of the parts are not relayed: one summed usage chunk (when the client
 * asked) and one `[DONE]` end the stream.
 */
export class LegacyEncoder implements StreamEncoder {
  readonly #state: LegacyStreamState = newStreamState()

  constructor(
    private readonly plan: LegacyPlan,
    private readonly prompts: readonly string[],
  ) {}

  push(chunks: readonly ChatChunk[], part: number): string {
    let out = ''
    for (const chunk of chunks) {
      for (const legacy of chatChunkToLegacyChunks(chunk, part, this.prompts[part] ?? '', this.plan, this.#state))
        out += formatSse(JSON.stringify(legacy))
    }

    return out
  }

  end(usage: ChatUsage): string {
    if (!this.plan.wantUsage) return DONE_EVENT
    const total = {
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      total_tokens: usage.prompt_tokens + usage.completion_tokens,
    }
    return formatSse(JSON.stringify(legacyUsageChunk(this.#state, this.plan, total))) + DONE_EVENT
  }

  fail(error: WireError): string {
    return chatStreamError(error)
  }
}

/** A whole legacy answer as a stream of one event (best_of cannot stream; a max_tokens of 0 needs no upstream), as the legacy API did. */
export function legacyAsOneEvent(completion: LegacyCompletion, wantUsage: boolean): string {
  const {usage, ...event} = completion
  return (
    formatSse(JSON.stringify(event)) +
    (wantUsage ? formatSse(JSON.stringify({...event, choices: [], usage})) : '') +
    DONE_EVENT
  )
}
