/** Chat Completions wire types (the parts gptconv reads or writes); snake_case as on the wire. */

export type ChatTopLogprob = {token: string; logprob: number; bytes?: number[] | null}
export type ChatTokenLogprob = ChatTopLogprob & {top_logprobs?: ChatTopLogprob[]}
export type ChatLogprobs = {content?: ChatTokenLogprob[] | null; refusal?: unknown}

export type ChatUsage = {prompt_tokens: number; completion_tokens: number; total_tokens: number}

export type ChatFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call'

export type ChatCompletion = {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  system_fingerprint?: string | null
  choices: Array<{index: number; message: {role: 'assistant'; content: string | null; refusal?: string | null}; logprobs: ChatLogprobs | null; finish_reason: ChatFinishReason | null}>
  usage?: ChatUsage
}

export type ChatChunk = {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  system_fingerprint?: string | null
  choices: Array<{index: number; delta: {role?: string; content?: string | null}; logprobs?: ChatLogprobs | null; finish_reason: ChatFinishReason | null}>
  usage?: ChatUsage | null
}

export type ChatMessage = {role: string; content: unknown; name?: string}

export type ChatRequest = Record<string, unknown> & {model: string; messages: ChatMessage[]; stream?: boolean}
