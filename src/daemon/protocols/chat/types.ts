/**
 * Chat Completions wire types (the parts gptconv reads or writes); snake_case as on the
 * wire. Chat is also the daemon's pivot: every client wire is decoded into a ChatRequest,
 * every upstream answer decoded into a ChatCompletion or a stream of ChatChunks.
 */

export type ChatTopLogprob = {token: string; logprob: number; bytes?: number[] | null}
export type ChatTokenLogprob = ChatTopLogprob & {top_logprobs?: ChatTopLogprob[]}
export type ChatLogprobs = {content?: ChatTokenLogprob[] | null; refusal?: unknown}

export type ChatUsage = {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  prompt_tokens_details?: {cached_tokens?: number; [key: string]: unknown} | null
  completion_tokens_details?: {reasoning_tokens?: number; [key: string]: unknown} | null
}

export type ChatFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call'

export type ChatToolCall = {id: string; type: 'function'; function: {name: string; arguments: string}}

/** A streamed tool call fragment: `index` says which call; id, type and name come once, arguments in pieces. */
export type ChatToolCallDelta = {
  index: number
  id?: string
  type?: 'function'
  function?: {name?: string; arguments?: string}
}

export type ChatAnswerMessage = {
  role: 'assistant'
  content: string | null
  refusal?: string | null
  tool_calls?: ChatToolCall[]
  /** the model's reasoning, as several chat servers send it (not OpenAI's schema) */
  reasoning_content?: string
}

export type ChatCompletion = {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  system_fingerprint?: string | null
  service_tier?: string | null
  choices: Array<{
    index: number
    message: ChatAnswerMessage
    logprobs: ChatLogprobs | null
    finish_reason: ChatFinishReason | null
  }>
  usage?: ChatUsage
}

export type ChatDelta = {
  role?: string
  content?: string | null
  refusal?: string | null
  tool_calls?: ChatToolCallDelta[]
  reasoning_content?: string
}

export type ChatChunk = {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  system_fingerprint?: string | null
  service_tier?: string | null
  choices: Array<{
    index: number
    delta: ChatDelta
    logprobs?: ChatLogprobs | null
    finish_reason: ChatFinishReason | null
  }>
  usage?: ChatUsage | null
}

export type ChatContentPart =
  | {type: 'text'; text: string}
  | {type: 'image_url'; image_url: {url: string; detail?: string}}
  | {type: string; [key: string]: unknown}

export type ChatMessage = {
  role: string
  content: unknown
  name?: string
  tool_calls?: ChatToolCall[]
  tool_call_id?: string
  refusal?: string | null
}

export type ChatTool = {
  type: 'function'
  function: {name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null}
}

export type ChatRequest = Record<string, unknown> & {model: string; messages: ChatMessage[]; stream?: boolean}
