/** Legacy Completions wire types (docs/protocols.md §1.1). */

export type LegacyFinishReason = 'stop' | 'length' | 'content_filter'

export type LegacyLogprobs = {
  tokens: string[]
  token_logprobs: Array<number | null>
  top_logprobs: Array<Record<string, number> | null>
  text_offset: number[]
}

export type LegacyChoice = {
  text: string
  index: number
  logprobs: LegacyLogprobs | null
  finish_reason: LegacyFinishReason | null
}

export type LegacyUsage = {prompt_tokens: number; completion_tokens: number; total_tokens: number}

export type LegacyCompletion = {
  id: string
  object: 'text_completion'
  created: number
  model: string
  system_fingerprint?: string
  choices: LegacyChoice[]
  usage?: LegacyUsage
}

/** A legacy request, validated and normalized; prompts still as sent (text or token ids). */
export type LegacyPlan = {
  model: string
  prompts: Array<string | number[]>
  n: number
  maxTokens: number
  stream: boolean
  wantUsage: boolean
  echo: boolean
  /** integer 0..5 when asked */
  logprobs: number | null
  /** candidates generated per prompt when `best_of` > `n` (emulated by ranking); else undefined */
  bestOf: number | undefined
  /** everything passed on to chat as it is: temperature, top_p, stop, penalties, logit_bias, user, seed, unknown fields */
  passThrough: Record<string, unknown>
}
