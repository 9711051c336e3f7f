import type {ChatRequest} from '../chat/types.js'

/**
 * Anthropic Messages API wire types: the parts gptconv reads from a client or writes back
 * (field names as on the wire; see `src/resources/messages/messages.ts` of @anthropic-ai/sdk).
 * Request types describe a body after validation; unknown fields are read as `unknown`.
 */

export type CacheControl = {type: 'ephemeral'; ttl?: string}

export type TextBlockParam = {type: 'text'; text: string; cache_control?: CacheControl | null; citations?: unknown}

export type ImageSource =
  {type: 'base64'; media_type: string; data: string} | {type: 'url'; url: string} | {type: 'file'; file_id: string}

export type ImageBlockParam = {type: 'image'; source: ImageSource; cache_control?: CacheControl | null}

export type DocumentSource =
  | {type: 'base64'; media_type: string; data: string}
  | {type: 'text'; media_type?: string; data: string}
  | {type: 'content'; content: string | Array<TextBlockParam | ImageBlockParam>}
  | {type: 'url'; url: string}
  | {type: 'file'; file_id: string}

export type DocumentBlockParam = {
  type: 'document'
  source: DocumentSource
  title?: string | null
  context?: string | null
  cache_control?: CacheControl | null
}

export type ToolUseBlockParam = {
  type: 'tool_use'
  id: string
  name: string
  input: unknown
  cache_control?: CacheControl | null
}

export type ToolResultBlockParam = {
  type: 'tool_result'
  tool_use_id: string
  content?: string | Array<TextBlockParam | ImageBlockParam | DocumentBlockParam>
  is_error?: boolean
  cache_control?: CacheControl | null
}

export type ThinkingBlockParam = {type: 'thinking'; thinking: string; signature: string}
export type RedactedThinkingBlockParam = {type: 'redacted_thinking'; data: string}

export type ContentBlockParam =
  | TextBlockParam
  | ImageBlockParam
  | DocumentBlockParam
  | ToolUseBlockParam
  | ToolResultBlockParam
  | ThinkingBlockParam
  | RedactedThinkingBlockParam

export type MessageParam = {role: 'user' | 'assistant' | 'system'; content: string | ContentBlockParam[]}

/** A client tool; server tools carry a dated `type` such as `web_search_20250305`. */
export type ToolParam = {
  name: string
  description?: string
  input_schema: Record<string, unknown>
  type?: 'custom' | null
  cache_control?: CacheControl | null
  strict?: boolean
}

export type ToolChoice =
  | {type: 'auto' | 'any' | 'none'; disable_parallel_tool_use?: boolean}
  | {type: 'tool'; name: string; disable_parallel_tool_use?: boolean}

export type ThinkingConfig =
  | {type: 'enabled'; budget_tokens: number; display?: string | null}
  | {type: 'disabled'}
  | {type: 'adaptive' | 'between_tools'; display?: string | null}

export type Effort = 'low' | 'medium' | 'high' | 'xhigh' | 'max'

/** `POST /v1/messages` (the fields gptconv reads). */
export type MessageCreateParams = {
  model: string
  max_tokens: number
  messages: MessageParam[]
  system?: string | TextBlockParam[]
  tools?: ToolParam[]
  tool_choice?: ToolChoice
  stop_sequences?: string[]
  temperature?: number
  top_p?: number
  top_k?: number
  stream?: boolean
  metadata?: {user_id?: string | null}
  thinking?: ThinkingConfig
  output_config?: {effort?: Effort | null; format?: {type: 'json_schema'; schema: Record<string, unknown>} | null}
}

export type StopReason =
  'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal' | 'model_context_window_exceeded'

export type TextBlock = {type: 'text'; text: string}
export type ThinkingBlock = {type: 'thinking'; thinking: string; signature: string}
export type ToolUseBlock = {type: 'tool_use'; id: string; name: string; input: Record<string, unknown>}
export type ContentBlock = TextBlock | ThinkingBlock | ToolUseBlock

export type Usage = {
  input_tokens: number
  output_tokens: number
  cache_creation_input_tokens: number
  cache_read_input_tokens: number
}

/** The non-stream answer. */
export type Message = {
  id: string
  type: 'message'
  role: 'assistant'
  model: string
  content: ContentBlock[]
  stop_reason: StopReason | null
  stop_sequence: string | null
  usage: Usage
}

export type ContentBlockDelta =
  | {type: 'text_delta'; text: string}
  | {type: 'input_json_delta'; partial_json: string}
  | {type: 'thinking_delta'; thinking: string}

/** Stream events, each sent as `event: <type>` + `data: <json>`. */
export type MessageStreamEvent =
  | {type: 'message_start'; message: Message}
  | {type: 'ping'}
  | {type: 'content_block_start'; index: number; content_block: ContentBlock}
  | {type: 'content_block_delta'; index: number; delta: ContentBlockDelta}
  | {type: 'content_block_stop'; index: number}
  | {type: 'message_delta'; delta: {stop_reason: StopReason | null; stop_sequence: string | null}; usage: Usage}
  | {type: 'message_stop'}
  | AnthropicErrorBody

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error'

export type AnthropicErrorBody = {type: 'error'; error: {type: AnthropicErrorType; message: string}}

/** `POST /v1/messages/count_tokens` answers this. */
export type MessageTokensCount = {input_tokens: number}

/** What the answer encoders need to know about the request. */
export type MessagesEcho = {
  /** the model as the client asked for it (answers name it, not the upstream's model) */
  readonly model: string
  /** chat tool name → the client's tool name, for the names that had to be shortened */
  readonly toolNames: ReadonlyMap<string, string>
  readonly stopSequences: readonly string[]
  /** the client asked for thinking: the upstream's reasoning text comes back as thinking blocks */
  readonly thinking: boolean
}

/** A decoded Messages request: the pivot chat request (without stream options) and what the answer needs. */
export type MessagesPlan = {
  readonly model: string
  readonly stream: boolean
  readonly chat: ChatRequest
  readonly echo: MessagesEcho
}
