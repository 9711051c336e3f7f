import type {SseEvent} from '../../sse.js'
import type {ChatChunk, ChatDelta, ChatFinishReason, ChatLogprobs} from '../chat/types.js'
import type {StreamDecoder} from '../codec.js'
import {UpstreamFormatError, UpstreamStreamError} from '../errors.js'
import {finishReasonOf, newChatId, responsesUsageToChat, toolCallOf, upstreamFailure} from './from-responses.js'
import {isObject} from './input.js'

/**
 * A Responses upstream's event stream → chat chunks. Text deltas become `delta.content`; each
 * function_call output item becomes its own `tool_calls[i]` (id = call_id, the name first, then
 * the argument fragments). `response.completed` / `response.incomplete` end the answer with
 * the finish chunk and the usage chunk. The calls are counted from the stream itself, because
 * the final event's `response.output` may be empty (the ChatGPT backend sends it so). Event
 * types this decoder does not know (`codex.rate_limits`, web search progress…) are skipped.
 */

type Json = Record<string, unknown>

export type ResponsesDecoderOptions = {
  /** send reasoning summary text as `delta.reasoning_content`, as several chat servers do (default: dropped; chat has no such field) */
  reasoningContent?: boolean
  /** the chat chunks' id (default: a new `chatcmpl-…`) */
  id?: string
  /** used until the upstream names its model */
  model?: string
}

type Call = {index: number; args: string}

function parse(event: SseEvent): Json | undefined {
  if (event.data === '[DONE]') return undefined
  let data: unknown
  try {
    data = JSON.parse(event.data)
  } catch {
    throw new UpstreamFormatError(`The upstream sent a stream event that is not JSON: ${event.data.slice(0, 200)}`)
  }

  if (!isObject(data)) throw new UpstreamFormatError('The upstream sent a stream event that is not a JSON object.')
  if (typeof data.type !== 'string' && event.event) data.type = event.event
  return data
}

function logprobsOf(value: unknown): ChatLogprobs | null {
  if (!Array.isArray(value) || value.length === 0) return null
  const alternatives = (top: unknown) =>
    Array.isArray(top) ? top.filter(isObject).map((a) => ({token: String(a.token), logprob: Number(a.logprob)})) : []
  return {
    content: value.filter(isObject).map((t) => ({
      token: String(t.token),
      logprob: Number(t.logprob),
      bytes: null,
      top_logprobs: alternatives(t.top_logprobs),
    })),
  }
}

export class ResponsesDecoder implements StreamDecoder {
  readonly #reasoning: boolean
  readonly #id: string
  #model: string
  #created = Math.floor(Date.now() / 1000)
  #roleSent = false
  #done = false
  /** output_index and item id → the chat tool call index */
  readonly #calls = new Map<unknown, Call>()
  #callCount = 0

  constructor(options: ResponsesDecoderOptions = {}) {
    this.#reasoning = options.reasoningContent === true
    this.#id = options.id ?? newChatId()
    this.#model = options.model ?? ''
  }

  get done(): boolean {
    return this.#done
  }

  process(events: readonly SseEvent[]): ChatChunk[] {
    const out: ChatChunk[] = []
    for (const event of events) {
      if (this.#done) break
      const data = parse(event)
      if (data) out.push(...this.#event(data))
    }

    return out
  }

  finish(): ChatChunk[] {
    if (this.#done) return []
    throw new UpstreamStreamError(
      "The upstream's stream ended before the response was complete.",
      'upstream_stream_incomplete',
    )
  }

  #event(data: Json): ChatChunk[] {
    switch (data.type) {
      case 'response.created':
      case 'response.in_progress':
        this.#meta(data.response)
        return []
      case 'response.output_text.delta':
        return this.#out({content: String(data.delta ?? '')}, null, logprobsOf(data.logprobs))
      case 'response.refusal.delta':
        return this.#out({refusal: String(data.delta ?? '')})
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        return this.#reasoning ? this.#out({reasoning_content: String(data.delta ?? '')}) : []
      case 'response.output_item.added':
        return isObject(data.item) && data.item.type === 'function_call'
          ? this.#openCall(data.output_index, data.item)
          : []
      case 'response.function_call_arguments.delta':
        return this.#arguments(
          this.#calls.get(data.output_index) ?? this.#calls.get(data.item_id),
          String(data.delta ?? ''),
        )
      case 'response.function_call_arguments.done':
        return this.#catchUp(this.#calls.get(data.output_index) ?? this.#calls.get(data.item_id), data.arguments)
      case 'response.output_item.done':
        return isObject(data.item) ? this.#itemDone(data.output_index, data.item) : []
      case 'response.completed':
      case 'response.incomplete':
        return this.#end({
          ...(isObject(data.response) ? data.response : {}),
          status: data.type === 'response.incomplete' ? 'incomplete' : 'completed',
        })
      case 'response.failed':
        throw upstreamFailure(
          isObject(data.response) ? data.response.error : undefined,
          'The upstream reported that the response failed.',
        )
      case 'error':
        throw upstreamFailure(isObject(data.error) ? data.error : data, 'The upstream reported an error.')
      default:
        return []
    }
  }

  #meta(response: unknown): void {
    if (!isObject(response)) return
    if (typeof response.model === 'string' && response.model !== '') this.#model = response.model
    if (typeof response.created_at === 'number') this.#created = Math.floor(response.created_at)
  }

  #chunk(delta: ChatDelta, finish: ChatFinishReason | null = null, logprobs: ChatLogprobs | null = null): ChatChunk {
    return {
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.#created,
      model: this.#model,
      choices: [{index: 0, delta, logprobs, finish_reason: finish}],
    }
  }

  /** Output chunks, after the one role chunk that opens a chat answer. */
  #out(delta: ChatDelta, finish: ChatFinishReason | null = null, logprobs: ChatLogprobs | null = null): ChatChunk[] {
    const out: ChatChunk[] = []
    if (!this.#roleSent) {
      this.#roleSent = true
      out.push(this.#chunk({role: 'assistant', content: ''}))
    }

    out.push(this.#chunk(delta, finish, logprobs))
    return out
  }

  #openCall(outputIndex: unknown, item: Json): ChatChunk[] {
    const call: Call = {index: this.#callCount++, args: ''}
    this.#calls.set(outputIndex, call)
    if (typeof item.id === 'string') this.#calls.set(item.id, call)
    const {id, function: fn} = toolCallOf(item)!
    call.args = fn.arguments
    return this.#out({
      tool_calls: [{index: call.index, id, type: 'function', function: {name: fn.name, arguments: fn.arguments}}],
    })
  }

  #arguments(call: Call | undefined, fragment: string): ChatChunk[] {
    if (!call || fragment === '') return []
    call.args += fragment
    return this.#out({tool_calls: [{index: call.index, function: {arguments: fragment}}]})
  }

  /** The complete arguments: whatever the fragments did not carry yet goes out now. */
  #catchUp(call: Call | undefined, full: unknown): ChatChunk[] {
    if (!call || typeof full !== 'string' || !full.startsWith(call.args)) return []
    return this.#arguments(call, full.slice(call.args.length))
  }

  /** A finished item: a call never announced (or a custom tool call, whose input arrives whole) goes out here. */
  #itemDone(outputIndex: unknown, item: Json): ChatChunk[] {
    if (item.type !== 'function_call' && item.type !== 'custom_tool_call') return []
    const call = this.#calls.get(outputIndex) ?? (typeof item.id === 'string' ? this.#calls.get(item.id) : undefined)
    if (!call) return this.#openCall(outputIndex, item)
    return this.#catchUp(call, toolCallOf(item)!.function.arguments)
  }

  #end(response: Json): ChatChunk[] {
    this.#done = true
    this.#meta(response)
    const out = this.#out({}, finishReasonOf(response, this.#callCount > 0))
    const usage = responsesUsageToChat(response.usage)
    if (usage)
      out.push({
        id: this.#id,
        object: 'chat.completion.chunk',
        created: this.#created,
        model: this.#model,
        choices: [],
        usage,
      })
    return out
  }
}
