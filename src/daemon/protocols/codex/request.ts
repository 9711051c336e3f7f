import type {ChatRequest} from '../chat/types.js'
import {chatRequestToResponses} from '../responses/to-responses.js'

/**
 * A Responses request made fit for the ChatGPT plan's Codex backend, whose rules differ
 * from the public API's (each breach is a 400 `{"detail": …}` there): nothing is stored
 * (`store: false`), every answer streams (`stream: true`), `instructions` may not be empty,
 * `input` must be a list, and some parameters are refused outright. Items carry no ids and
 * no `item_reference`s, since nothing is kept to refer to. What is dropped is returned, to
 * be logged: never silently.
 */

/** Parameters the backend refuses, and the daemon drops (listed in the README). */
export const CODEX_DROPPED = [
  'max_output_tokens',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'metadata',
  'user',
  'context_management',
  'previous_response_id',
  'background',
] as const

/** When a request brings no instructions of its own. */
export const DEFAULT_INSTRUCTIONS = 'You are a helpful assistant.'

type Body = Record<string, unknown>

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v)

/** An input item without the id the backend would look up (and fail to find). */
function withoutId(item: unknown): unknown {
  if (!isObject(item) || item.id === undefined) return item
  const {id: _id, ...rest} = item
  return rest
}

export function toCodexRequest(body: Body): {body: Body; notes: string[]} {
  const notes: string[] = []
  const out: Body = {...body, store: false, stream: true}
  for (const name of CODEX_DROPPED) {
    if (out[name] === undefined) continue
    notes.push(`${name} dropped: the ChatGPT plan's backend refuses it`)
    delete out[name]
  }

  if (typeof out.instructions !== 'string' || out.instructions.trim() === '') out.instructions = DEFAULT_INSTRUCTIONS
  if (typeof out.input === 'string')
    out.input = [{type: 'message', role: 'user', content: [{type: 'input_text', text: out.input}]}]
  if (Array.isArray(out.input)) {
    const refs = out.input.filter((item) => isObject(item) && item.type === 'item_reference').length
    if (refs > 0) notes.push(`${refs} item_reference(s) dropped: the ChatGPT plan's backend keeps no items`)
    out.input = out.input.filter((item) => !(isObject(item) && item.type === 'item_reference')).map(withoutId)
  }

  return {body: out, notes}
}

/** Chat parameters the Responses mapping cannot carry to this backend; stop and max_tokens are applied by the daemon instead. */
const CHAT_DROPPED = [
  'stop',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'frequency_penalty',
  'presence_penalty',
  'logit_bias',
  'seed',
  'user',
  'metadata',
  'stream_options',
]

/** A pivot (chat) request for the Codex backend: through the Responses mapping, then the backend's rules. */
export function chatToCodexRequest(chat: ChatRequest): {body: Body; notes: string[]} {
  const notes: string[] = []
  const kept: Body = {...chat}
  for (const name of CHAT_DROPPED) {
    if (kept[name] === undefined || kept[name] === null) continue
    if (name !== 'stop' && name !== 'max_tokens' && name !== 'max_completion_tokens' && name !== 'stream_options')
      notes.push(`${name} dropped: the ChatGPT plan's backend has no such parameter`)
    delete kept[name]
  }

  const {body, notes: more} = toCodexRequest(chatRequestToResponses(kept as ChatRequest))
  return {body, notes: [...notes, ...more]}
}
