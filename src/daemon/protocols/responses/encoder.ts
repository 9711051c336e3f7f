import {formatSseEvent} from '../../sse.js'
import type {
  ChatChunk,
  ChatDelta,
  ChatFinishReason,
  ChatTokenLogprob,
  ChatToolCallDelta,
  ChatUsage,
} from '../chat/types.js'
import type {StreamEncoder, WireError} from '../codec.js'
import {newId} from './ids.js'
import {
  type ResponseOptions,
  buildResponse,
  callItem,
  customInput,
  deltaLogprobs,
  endingOf,
  logprobsToResponses,
  usageToResponses,
} from './response.js'
import type {
  CustomToolCallItem,
  FunctionCallItem,
  IdMaker,
  ItemStatus,
  OutputMessageItem,
  OutputPart,
  Response,
  ResponsesPlan,
} from './types.js'

/**
 * Chat chunks → the Responses event stream (`event: <type>` + `data: <json>`, a
 * `sequence_number` from 0, no `[DONE]`). `response.created` and `response.in_progress` go
 * out with the first chunk. Text and refusal deltas grow one message item; each chat
 * `tool_calls[].index` is its own function_call item whose argument fragments are relayed as
 * they come. A message item closes when a tool call begins (text after the calls opens a new
 * one); tool call items stay open until the end, because some upstreams interleave the
 * fragments of parallel calls. A custom tool's input reaches chat JSON-encoded
 * (`{"input": …}`), so it goes out in one delta when its call closes. Only choice 0 counts:
 * a Responses request never asks for several.
 */

type OpenMessage = {index: number; item: OutputMessageItem; part: OutputPart | undefined}
type OpenCall = {
  callId?: string
  name?: string
  args: string
  index?: number
  item?: FunctionCallItem | CustomToolCallItem
  closed: boolean
}

/** The `ResponseErrorCode` values an upstream failure can honestly be reported as. */
const FAILURE_CODES = new Set(['server_error', 'rate_limit_exceeded', 'invalid_prompt'])

function failureCode(error: WireError): string {
  if (error.status === 429 || error.type === 'rate_limit_error') return 'rate_limit_exceeded'
  return error.code !== null && FAILURE_CODES.has(error.code) ? error.code : 'server_error'
}

export class ResponsesEncoder implements StreamEncoder {
  readonly #plan: ResponsesPlan
  readonly #id: string
  readonly #createdAt: number
  readonly #newId: IdMaker
  readonly #output: Response['output'] = []
  readonly #calls = new Map<number, OpenCall>()
  #seq = 0
  #model: string
  #serviceTier: string | null = null
  #started = false
  #message: OpenMessage | undefined
  #finish: ChatFinishReason | null = null
  #response: Response | undefined

  constructor(plan: ResponsesPlan, options: ResponseOptions = {}) {
    this.#plan = plan
    this.#newId = options.newId ?? newId
    this.#id = options.id ?? this.#newId('resp')
    this.#createdAt = options.createdAt ?? Math.floor(Date.now() / 1000)
    this.#model = plan.model
  }

  /** The response id (`resp_…`), fixed from the start. */
  get id(): string {
    return this.#id
  }

  /** The final Response object, once `end` or `fail` has run (what the daemon stores). */
  get response(): Response | undefined {
    return this.#response
  }

  /** `part` is always 0: a Responses request never fans out. */
  push(chunks: readonly ChatChunk[], _part = 0): string {
    if (this.#response || chunks.length === 0) return ''
    let out = this.#start(chunks[0])
    for (const chunk of chunks) {
      this.#serviceTier = chunk.service_tier ?? this.#serviceTier
      for (const choice of chunk.choices ?? []) {
        if (choice.index !== 0) continue
        out += this.#delta(choice.delta ?? {}, choice.logprobs?.content)
        if (choice.finish_reason) this.#finish = choice.finish_reason
      }
    }

    return out
  }

  end(usage: ChatUsage): string {
    if (this.#response) return ''
    let out = this.#start(undefined)
    const ending = endingOf(this.#finish)
    out += this.#closeAll(ending.status === 'completed' ? 'completed' : 'incomplete')
    this.#response = this.#snapshot(ending.status, {usage: usageToResponses(usage), incomplete: ending.incomplete})
    return out + this.#emit(`response.${ending.status}`, {response: this.#response})
  }

  fail(error: WireError): string {
    if (this.#response) return ''
    const out = this.#start(undefined)
    if (this.#message) this.#message.item.status = 'incomplete'
    for (const call of this.#calls.values())
      if (call.item?.type === 'function_call' && !call.closed) call.item.status = 'incomplete'
    this.#response = this.#snapshot('failed', {error: {code: failureCode(error), message: error.message}})
    return out + this.#emit('response.failed', {response: this.#response})
  }

  #snapshot(
    status: Response['status'],
    extra: {usage?: Response['usage']; incomplete?: Response['incomplete_details']; error?: Response['error']} = {},
  ): Response {
    return buildResponse(this.#plan, {
      id: this.#id,
      createdAt: this.#createdAt,
      model: this.#model,
      status,
      output: this.#output,
      serviceTier: this.#serviceTier,
      ...extra,
    })
  }

  #emit(type: string, fields: Record<string, unknown>): string {
    return formatSseEvent(type, JSON.stringify({type, ...fields, sequence_number: this.#seq++}))
  }

  #start(first: ChatChunk | undefined): string {
    if (this.#started) return ''
    this.#started = true
    if (first?.model) this.#model = first.model
    const response = this.#snapshot('in_progress')
    return this.#emit('response.created', {response}) + this.#emit('response.in_progress', {response})
  }

  #delta(delta: ChatDelta, logprobs: readonly ChatTokenLogprob[] | null | undefined): string {
    let out = ''
    if (typeof delta.content === 'string' && delta.content !== '')
      out += this.#text('output_text', delta.content, logprobs)
    if (typeof delta.refusal === 'string' && delta.refusal !== '')
      out += this.#text('refusal', delta.refusal, undefined)
    for (const call of delta.tool_calls ?? []) out += this.#toolCall(call)
    return out
  }

  #text(kind: OutputPart['type'], value: string, logprobs: readonly ChatTokenLogprob[] | null | undefined): string {
    let out = this.#message ? '' : this.#openMessage()
    const message = this.#message!
    if (message.part?.type !== kind) out += this.#closePart() + this.#openPart(kind)
    const part = message.part!
    const at = {item_id: message.item.id, output_index: message.index, content_index: message.item.content.length - 1}
    if (part.type === 'refusal') {
      part.refusal += value
      return out + this.#emit('response.refusal.delta', {...at, delta: value})
    }

    part.text += value
    part.logprobs.push(...logprobsToResponses(logprobs))
    return out + this.#emit('response.output_text.delta', {...at, delta: value, logprobs: deltaLogprobs(logprobs)})
  }

  #openMessage(): string {
    const item: OutputMessageItem = {
      type: 'message',
      id: this.#newId('msg'),
      role: 'assistant',
      status: 'in_progress',
      content: [],
    }
    this.#message = {index: this.#output.push(item) - 1, item, part: undefined}
    return this.#emit('response.output_item.added', {output_index: this.#message.index, item})
  }

  #openPart(kind: OutputPart['type']): string {
    const message = this.#message!
    const part: OutputPart =
      kind === 'refusal'
        ? {type: 'refusal', refusal: ''}
        : {type: 'output_text', text: '', annotations: [], logprobs: []}
    message.part = part
    message.item.content.push(part)
    return this.#emit('response.content_part.added', {
      item_id: message.item.id,
      output_index: message.index,
      content_index: message.item.content.length - 1,
      part,
    })
  }

  #closePart(): string {
    const message = this.#message
    const part = message?.part
    if (!message || !part) return ''
    message.part = undefined
    const at = {item_id: message.item.id, output_index: message.index, content_index: message.item.content.length - 1}
    const done =
      part.type === 'refusal'
        ? this.#emit('response.refusal.done', {...at, refusal: part.refusal})
        : this.#emit('response.output_text.done', {...at, text: part.text, logprobs: part.logprobs})
    return done + this.#emit('response.content_part.done', {...at, part})
  }

  #closeMessage(status: ItemStatus): string {
    const message = this.#message
    if (!message) return ''
    const out = this.#closePart()
    this.#message = undefined
    message.item.status = status
    return out + this.#emit('response.output_item.done', {output_index: message.index, item: message.item})
  }

  #toolCall(delta: ChatToolCallDelta): string {
    let call = this.#calls.get(delta.index)
    if (!call) this.#calls.set(delta.index, (call = {args: '', closed: false}))
    if (delta.id) call.callId ??= delta.id
    if (delta.function?.name) call.name ??= delta.function.name
    const fragment = delta.function?.arguments ?? ''
    call.args += fragment
    // the item opens once its name is known; fragments before that go out with it
    if (!call.item) return call.name === undefined ? '' : this.#openCall(call)
    if (call.item.type !== 'function_call' || fragment === '') return ''
    call.item.arguments = call.args
    return this.#emit('response.function_call_arguments.delta', {
      item_id: call.item.id,
      output_index: call.index,
      delta: fragment,
    })
  }

  #openCall(call: OpenCall, messageStatus: ItemStatus = 'completed'): string {
    let out = this.#closeMessage(messageStatus)
    const item = callItem(
      {callId: call.callId ?? this.#newId('call'), name: call.name ?? '', args: ''},
      this.#plan,
      this.#newId,
      'in_progress',
    )
    call.item = item
    call.index = this.#output.push(item) - 1
    out += this.#emit('response.output_item.added', {output_index: call.index, item})
    if (item.type !== 'function_call' || call.args === '') return out
    item.arguments = call.args
    return (
      out +
      this.#emit('response.function_call_arguments.delta', {
        item_id: item.id,
        output_index: call.index,
        delta: call.args,
      })
    )
  }

  #closeCall(call: OpenCall, status: ItemStatus): string {
    const item = call.item!
    call.closed = true
    const at = {item_id: item.id, output_index: call.index}
    let out: string
    if (item.type === 'function_call') {
      item.status = status
      out = this.#emit('response.function_call_arguments.done', {...at, name: item.name, arguments: item.arguments})
    } else {
      item.input = customInput(call.args)
      out =
        (item.input === '' ? '' : this.#emit('response.custom_tool_call_input.delta', {...at, delta: item.input})) +
        this.#emit('response.custom_tool_call_input.done', {...at, input: item.input})
    }

    return out + this.#emit('response.output_item.done', {output_index: call.index, item})
  }

  /**
   * The end: calls that never got a name open now; an empty answer is an empty message; every
   * open item closes in output order (an open message began after every call, so it is last).
   */
  #closeAll(status: ItemStatus): string {
    let out = ''
    for (const call of this.#calls.values()) if (!call.item) out += this.#openCall(call, status)
    if (this.#output.length === 0) out += this.#openMessage() + this.#openPart('output_text')
    for (const call of [...this.#calls.values()].sort((a, b) => a.index! - b.index!))
      if (!call.closed) out += this.#closeCall(call, status)
    return out + this.#closeMessage(status)
  }
}
