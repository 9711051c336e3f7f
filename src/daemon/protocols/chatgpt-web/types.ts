/** ChatGPT web backend wire types, the parts gptconv reads or writes. */

/** One step of a thinking model's reasoning (`content_type: "thoughts"`). */
export type WebThought = {summary?: string; content?: string}

export type WebMessage = {
  id?: string
  author?: {role?: string; name?: string | null}
  content?: {content_type?: string; parts?: unknown[]; thoughts?: WebThought[]; content?: string; text?: string}
  status?: string
  end_turn?: boolean | null
  recipient?: string
  /** reasoning models: "analysis" and "commentary" are thinking out loud; "final" (or none) is the answer */
  channel?: string | null
  metadata?: {message_type?: string | null; model_slug?: string; finish_details?: {type?: string} | null}
}

/**
 * One data event. Content comes as a cumulative snapshot (`message`), a message snapshot in
 * `v`, or patch ops (`p` path, `o` op, `v` value; `c` the message's index in the
 * conversation). Events with a `type` are control events (stream complete, moderation,
 * hand-off to a websocket, titles, markers, metadata).
 */
export type WebEvent = {
  message?: WebMessage | null
  conversation_id?: string
  error?: unknown
  error_code?: string | null
  type?: string
  moderation_response?: {flagged?: boolean; blocked?: boolean} | null
  /** `stream_handoff`: where the answer continues (`{"type": "subscribe_ws_topic", …}`) */
  options?: unknown[]
  p?: string
  o?: string
  v?: unknown
  c?: number
}

export type WebPatchOp = {p?: string; o?: string; v?: unknown}

export type ConversationRequest = {
  action: 'next'
  messages: Array<{
    id: string
    author: {role: string}
    content: {content_type: 'text'; parts: string[]}
    metadata: Record<string, never>
  }>
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
