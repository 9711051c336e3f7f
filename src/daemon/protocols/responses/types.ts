import type {ChatRequest} from '../chat/types.js'

/**
 * OpenAI Responses API wire types: the parts gptconv reads or writes, snake_case as on the
 * wire. Field names and required fields follow the official OpenAPI schemas `CreateResponse`,
 * `Response` and `ResponseStreamEvent`.
 */

export type ItemStatus = 'in_progress' | 'completed' | 'incomplete'

/** One token's log probability inside an `output_text` part (every field required there). */
export type ResponsesLogprob = {
  token: string
  logprob: number
  bytes: number[]
  top_logprobs: Array<{token: string; logprob: number; bytes: number[]}>
}
/** The lighter shape the text delta and done events carry. */
export type ResponsesDeltaLogprob = {
  token: string
  logprob: number
  top_logprobs: Array<{token: string; logprob: number}>
}

export type InputTextPart = {type: 'input_text'; text: string}
export type InputImagePart = {
  type: 'input_image'
  image_url?: string | null
  file_id?: string | null
  detail?: string | null
}
export type InputFilePart = {
  type: 'input_file'
  file_id?: string | null
  filename?: string | null
  file_data?: string | null
  file_url?: string | null
}
export type InputPart = InputTextPart | InputImagePart | InputFilePart
export type OutputTextPart = {type: 'output_text'; text: string; annotations: unknown[]; logprobs: ResponsesLogprob[]}
export type RefusalPart = {type: 'refusal'; refusal: string}
export type OutputPart = OutputTextPart | RefusalPart

export type MessageRole = 'user' | 'assistant' | 'system' | 'developer'

/** A message as the daemon keeps it: content always a list of parts. */
export type MessageItem = {
  type: 'message'
  id: string
  role: MessageRole
  status: ItemStatus
  content: Array<InputPart | OutputPart>
}
export type OutputMessageItem = {
  type: 'message'
  id: string
  role: 'assistant'
  status: ItemStatus
  content: OutputPart[]
}
export type FunctionCallItem = {
  type: 'function_call'
  id: string
  call_id: string
  name: string
  arguments: string
  status: ItemStatus
}
export type FunctionCallOutputItem = {
  type: 'function_call_output'
  id: string
  call_id: string
  output: string | InputPart[]
  status?: ItemStatus
}
/** A call of a free-form ("custom") tool: its input is plain text, not JSON arguments. */
export type CustomToolCallItem = {type: 'custom_tool_call'; id: string; call_id: string; name: string; input: string}
export type CustomToolCallOutputItem = {
  type: 'custom_tool_call_output'
  id: string
  call_id: string
  output: string | InputPart[]
}
/** Reasoning from an earlier turn (often only `encrypted_content`): kept as sent, never sent to a chat upstream. */
export type ReasoningItem = {
  type: 'reasoning'
  id: string
  summary: Array<{type: 'summary_text'; text: string}>
  encrypted_content?: string | null
  content?: unknown
}

export type InputItem =
  | MessageItem
  | FunctionCallItem
  | FunctionCallOutputItem
  | CustomToolCallItem
  | CustomToolCallOutputItem
  | ReasoningItem
export type OutputItem = OutputMessageItem | FunctionCallItem | CustomToolCallItem

export type FunctionTool = {
  type: 'function'
  name: string
  description?: string
  parameters: Record<string, unknown> | null
  strict: boolean | null
}
export type CustomTool = {type: 'custom'; name: string; description?: string; format?: Record<string, unknown>}
export type ResponsesTool = FunctionTool | CustomTool

export type ResponsesToolChoice =
  | 'none'
  | 'auto'
  | 'required'
  | {type: 'function' | 'custom'; name: string}
  | {type: 'allowed_tools'; mode: 'auto' | 'required'; tools: Array<{type: 'function' | 'custom'; name: string}>}

export type TextFormat =
  | {type: 'text'}
  | {type: 'json_object'}
  | {type: 'json_schema'; name: string; schema: Record<string, unknown>; strict?: boolean | null; description?: string}

export type TextConfig = {format: TextFormat; verbosity?: 'low' | 'medium' | 'high'}

export type ResponsesUsage = {
  input_tokens: number
  input_tokens_details: {cached_tokens: number; cache_write_tokens: number}
  output_tokens: number
  output_tokens_details: {reasoning_tokens: number}
  total_tokens: number
}

export type ResponseStatus = 'completed' | 'failed' | 'in_progress' | 'incomplete'

/** The `Response` fields that come from the request: echoed in every Response object of one request. */
export type ResponseEcho = {
  instructions: string | null
  max_output_tokens: number | null
  max_tool_calls: number | null
  metadata: Record<string, string>
  parallel_tool_calls: boolean
  previous_response_id: string | null
  prompt_cache_key?: string
  reasoning: {effort: string | null; summary: string | null}
  safety_identifier?: string
  /** as requested; the upstream's own tier replaces it when it reports one */
  service_tier: string
  store: boolean
  temperature: number
  text: TextConfig
  tool_choice: ResponsesToolChoice
  tools: ResponsesTool[]
  top_logprobs?: number
  top_p: number
  truncation: 'auto' | 'disabled'
  user?: string
}

export type Response = ResponseEcho & {
  id: string
  object: 'response'
  created_at: number
  status: ResponseStatus
  background: boolean
  error: {code: string; message: string} | null
  incomplete_details: {reason: 'max_output_tokens' | 'content_filter'} | null
  model: string
  output: OutputItem[]
  usage?: ResponsesUsage
}

/** The daemon's store of earlier responses (per client), as the decoder needs it. */
export type ResponsesHistory = {
  /** a stored response: the full input it was made from (already resolved) and its output */
  response(id: string): {input: InputItem[]; output: OutputItem[]} | undefined
  /** any stored input or output item, by its id */
  item(id: string): InputItem | OutputItem | undefined
}

/** Makes the daemon's ids (`resp_…`, `msg_…`, `fc_…`): a prefix in, a fresh id out. */
export type IdMaker = (prefix: string) => string

/** A Responses request, validated and mapped onto the chat pivot. */
export type ResponsesPlan = {
  model: string
  stream: boolean
  /** whether the daemon keeps the answer (the API's default is true) */
  store: boolean
  /** the pivot request, without `stream` / `stream_options` (the daemon sets those) */
  chat: ChatRequest
  /** the full resolved input (earlier turns of `previous_response_id`, references resolved), each item with an id */
  input: InputItem[]
  echo: ResponseEcho
  /** names of the custom tools: their chat function calls become `custom_tool_call` items */
  customTools: readonly string[]
}

/** A stream event as the encoder writes it: `type`, the event's own fields, `sequence_number`. */
export type ResponsesStreamEvent = {type: string; sequence_number: number; [field: string]: unknown}
