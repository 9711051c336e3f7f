import type {StreamEncoder, WireError} from '../codec.js'
import type {ChatChunk, ChatFinishReason, ChatToolCallDelta, ChatUsage} from '../chat/types.js'
import {anthropicErrorBody} from './errors.js'
import {clientToolName, matchedStop, newMessageId, stopReason, toolUseId, usageToAnthropic} from './response.js'
import type {Message, MessagesEcho, MessageStreamEvent} from './types.js'

/**
 * Chat chunks → Anthropic's SSE stream, a state machine over content blocks. Each block is
 * start → deltas → stop, one open at a time, numbered in the order they open:
 * - `message_start` (then a `ping`) goes out with the first chunks. Its usage carries the
 *   caller's estimate of the input tokens (the upstream reports usage only at the end); the
 *   real counts go in `message_delta`, whose usage clients read as cumulative totals.
 * - text opens on the first non-empty `delta.content`; reasoning text opens a thinking block
 *   only when the client asked for thinking; a change of kind closes the open block.
 * - each new `tool_calls[].index` (or a new id on a known index) closes the open block and
 *   starts a `tool_use` block with id, name and `input: {}`; every non-empty arguments
 *   fragment — the one bundled with the name too — goes on THAT block as `input_json_delta`.
 *   A repeated id is the same call. A fragment for a call whose block has closed (servers
 *   that interleave parallel calls; none known) cannot be placed and is dropped.
 * - the finish reason is remembered; `end(usage)` closes the open block and sends
 *   `message_delta` (stop reason, usage) and `message_stop`. There is no `[DONE]`.
 * Blocks are never empty and no delta names a block that is not open: clients fail with
 * "Content block not found" otherwise.
 */

type Kind = 'text' | 'thinking' | 'tool_use'

type Call = {id: string; name: string | undefined; block: number | undefined; pending: string}

export const sseEvent = (event: MessageStreamEvent): string =>
  `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`

export class MessagesEncoder implements StreamEncoder {
  readonly #echo: MessagesEcho
  readonly #id: string
  readonly #inputTokens: number
  #started = false
  #ended = false
  #blocks = 0
  #open: {kind: Kind; index: number} | undefined
  /** chat tool-call index → the call */
  readonly #calls = new Map<number, Call>()
  #lastCall: number | undefined
  #finish: ChatFinishReason | null = null
  #matched: string | null = null
  #toolUse = false
  #refused = false

  /** `inputTokens`: the estimate `message_start` carries (the daemon counts the prompt). */
  constructor(plan: {echo: MessagesEcho}, options: {id?: string; inputTokens?: number} = {}) {
    this.#echo = plan.echo
    this.#id = options.id ?? newMessageId()
    this.#inputTokens = options.inputTokens ?? 0
  }

  /** Only the first prompt's first choice exists for Anthropic: other parts and choices are ignored. */
  push(chunks: readonly ChatChunk[], part: number): string {
    if (this.#ended || part !== 0) return ''
    let out = this.#start()
    for (const chunk of chunks) {
      for (const choice of chunk.choices ?? []) {
        if (choice.index !== 0) continue
        const delta = choice.delta ?? {}
        if (this.#echo.thinking && typeof delta.reasoning_content === 'string')
          out += this.#text('thinking', delta.reasoning_content)
        if (typeof delta.content === 'string') out += this.#text('text', delta.content)
        if (typeof delta.refusal === 'string' && delta.refusal !== '') {
          this.#refused = true
          out += this.#text('text', delta.refusal)
        }

        for (const call of delta.tool_calls ?? []) out += this.#toolCall(call)
        if (choice.finish_reason) {
          this.#finish = choice.finish_reason
          this.#matched = matchedStop(choice, this.#echo.stopSequences) ?? this.#matched
        }
      }
    }

    return out
  }

  end(usage: ChatUsage): string {
    if (this.#ended) return ''
    this.#ended = true
    const stop = stopReason(this.#finish, {toolCalls: this.#toolUse, refused: this.#refused, matched: this.#matched})
    return (
      this.#start() +
      this.#close() +
      sseEvent({type: 'message_delta', delta: stop, usage: usageToAnthropic(usage)}) +
      sseEvent({type: 'message_stop'})
    )
  }

  fail(error: WireError): string {
    if (this.#ended) return ''
    this.#ended = true
    return sseEvent(anthropicErrorBody(error.status, error.message))
  }

  #start(): string {
    if (this.#started) return ''
    this.#started = true
    const usage = {
      input_tokens: this.#inputTokens,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    }
    const message: Message = {
      id: this.#id,
      type: 'message',
      role: 'assistant',
      model: this.#echo.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage,
    }
    return sseEvent({type: 'message_start', message}) + sseEvent({type: 'ping'})
  }

  #close(): string {
    if (!this.#open) return ''
    const {index} = this.#open
    this.#open = undefined
    return sseEvent({type: 'content_block_stop', index})
  }

  /** Closes the open block and starts a new one of `block`'s kind. */
  #begin(block: Extract<MessageStreamEvent, {type: 'content_block_start'}>['content_block']): string {
    const out = this.#close()
    const index = this.#blocks++
    this.#open = {kind: block.type, index}
    return out + sseEvent({type: 'content_block_start', index, content_block: block})
  }

  #text(kind: 'text' | 'thinking', text: string): string {
    if (text === '') return ''
    let out = ''
    if (this.#open?.kind !== kind)
      out += this.#begin(kind === 'text' ? {type: 'text', text: ''} : {type: 'thinking', thinking: '', signature: ''})
    const index = this.#open!.index
    return (
      out +
      sseEvent({
        type: 'content_block_delta',
        index,
        delta: kind === 'text' ? {type: 'text_delta', text} : {type: 'thinking_delta', thinking: text},
      })
    )
  }

  /** Which call a fragment belongs to: its `index`; servers that omit it send a new id for a new call. */
  #key(call: ChatToolCallDelta): number {
    if (typeof call.index === 'number') return call.index
    const last = this.#lastCall
    if (last === undefined) return 0
    return call.id && call.id !== this.#calls.get(last)?.id ? last + 1 : last
  }

  #toolCall(delta: ChatToolCallDelta): string {
    const key = this.#key(delta)
    let call = this.#calls.get(key)
    if (!call || (delta.id && call.id && delta.id !== call.id)) {
      call = {id: delta.id ?? '', name: undefined, block: undefined, pending: ''}
      this.#calls.set(key, call)
      this.#lastCall = key
    }

    call.id ||= delta.id ?? ''
    if (delta.function?.name) call.name ??= delta.function.name
    const args = delta.function?.arguments ?? ''
    if (call.block === undefined) {
      // a call opens once its name is known; fragments that came before wait for it
      call.pending += args
      return call.name === undefined ? '' : this.#openCall(call)
    }

    if (args === '' || this.#open?.index !== call.block) return ''
    return sseEvent({
      type: 'content_block_delta',
      index: call.block,
      delta: {type: 'input_json_delta', partial_json: args},
    })
  }

  #openCall(call: Call): string {
    let out = this.#begin({
      type: 'tool_use',
      id: toolUseId(call.id),
      name: clientToolName(this.#echo, call.name!),
      input: {},
    })
    call.block = this.#open!.index
    this.#toolUse = true
    if (call.pending !== '')
      out += sseEvent({
        type: 'content_block_delta',
        index: call.block,
        delta: {type: 'input_json_delta', partial_json: call.pending},
      })
    call.pending = ''
    return out
  }
}
