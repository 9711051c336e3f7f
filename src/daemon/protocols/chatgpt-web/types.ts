/** ChatGPT web backend wire types (protocols.md §5), the parts gptconv reads or writes. */

export type WebMessage = {
  id?: string
  author?: {role?: string; name?: string | null}
  content?: {content_type?: string; parts?: unknown[]}
  status?: string
  end_turn?: boolean | null
  recipient?: string
  metadata?: {message_type?: string; model_slug?: string; finish_details?: {type?: string} | null}
}

/** One data event: a cumulative snapshot (`message`), or a patch/delta (`p`, `o`, `v`). */
export type WebEvent = {
  message?: WebMessage | null
  conversation_id?: string
  error?: unknown
  type?: string
  p?: string
  o?: string
  v?: unknown
}

export type WebPatchOp = {p?: string; o?: string; v?: unknown}

export type ConversationRequest = {
  action: 'next'
  messages: Array<{id: string; author: {role: string}; content: {content_type: 'text'; parts: string[]}; metadata: Record<string, never>}>
  parent_message_id: string
  model: string
  timezone_offset_min: number
  history_and_training_disabled: boolean
  conversation_mode: {kind: 'primary_assistant'}
  force_paragen: boolean
  force_rate_limit: boolean
  suggestions: string[]
  websocket_request_id: string
  force_use_sse: boolean
}
