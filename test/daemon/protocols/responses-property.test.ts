import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'

import type {ChatChunk, ChatCompletion, ChatFinishReason} from '../../../src/daemon/protocols/chat/types.js'
import {ResponsesEncoder} from '../../../src/daemon/protocols/responses/encoder.js'
import {decodeResponsesRequest} from '../../../src/daemon/protocols/responses/request.js'
import {chatCompletionToResponse} from '../../../src/daemon/protocols/responses/response.js'
import type {OutputItem} from '../../../src/daemon/protocols/responses/types.js'
import {assertSchema} from '../../helpers/openapi.js'
import {type StreamedEvent, counter, responsesEvents} from '../../helpers/responses.js'

type Folded = {
  text: string
  refusal: string
  calls: Array<{type: string; call_id: string; name: string; payload: string}>
}

/** Text, refusal and calls of a Response's output. */
function foldOutput(output: readonly OutputItem[]): Folded {
  const folded: Folded = {text: '', refusal: '', calls: []}
  for (const item of output) {
    if (item.type === 'message') {
      for (const part of item.content) {
        if (part.type === 'output_text') folded.text += part.text
        else folded.refusal += part.refusal
      }
    } else {
      folded.calls.push({
        type: item.type,
        call_id: item.call_id,
        name: item.name,
        payload: item.type === 'function_call' ? item.arguments : item.input,
      })
    }
  }

  return folded
}

/** The same, from the deltas of the event stream alone; each `.done` must agree with its deltas. */
function foldEvents(events: readonly StreamedEvent[]): Folded {
  const items = new Map<number, {item: Record<string, unknown>; text: string; payload: string}>()
  const folded: Folded = {text: '', refusal: '', calls: []}
  for (const e of events) {
    const entry = items.get(e.output_index as number)
    switch (e.type) {
      case 'response.output_item.added':
        items.set(e.output_index as number, {item: e.item as Record<string, unknown>, text: '', payload: ''})
        break
      case 'response.output_text.delta':
        entry!.text += e.delta as string
        folded.text += e.delta as string
        break
      case 'response.output_text.done':
        assert.equal(e.text, entry!.text)
        entry!.text = ''
        break
      case 'response.refusal.delta':
        folded.refusal += e.delta as string
        break
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta':
        entry!.payload += e.delta as string
        break
      case 'response.function_call_arguments.done':
        assert.equal(e.arguments, entry!.payload)
        break
      case 'response.custom_tool_call_input.done':
        assert.equal(e.input, entry!.payload)
        break
      case 'response.output_item.done': {
        const item = e.item as Record<string, unknown>
        if (item.type !== 'message')
          folded.calls.push({
            type: item.type as string,
            call_id: item.call_id as string,
            name: item.name as string,
            payload: entry!.payload,
          })
      }
    }
  }

  return folded
}

type Source =
  | {kind: 'text'; pieces: string[]}
  | {kind: 'refusal'; pieces: string[]}
  | {kind: 'call'; index: number; name: string; pieces: string[]}

/**
 * Merge the sources' pieces in an order `picks` chooses, keeping each source's own order and
 * starting the calls in index order (as chat streams do; their fragments may then interleave);
 * then cut into batches.
 */
function chunksOf(sources: Source[], picks: number[], cuts: number[], finish: ChatFinishReason): ChatChunk[][] {
  const queues = sources.map((s) => ({source: s, next: 0}))
  const ready = (q: (typeof queues)[number]) => {
    if (q.next >= q.source.pieces.length) return false
    const {source} = q
    return (
      source.kind !== 'call' ||
      q.next > 0 ||
      !queues.some((o) => o.source.kind === 'call' && o.source.index < source.index && o.next === 0)
    )
  }

  const chunks: ChatChunk[] = []
  const make = (delta: Record<string, unknown>, reason: ChatFinishReason | null = null) =>
    ({
      id: 'chatcmpl-p',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [{index: 0, delta, logprobs: null, finish_reason: reason}],
    }) as ChatChunk
  chunks.push(make({role: 'assistant', content: ''}))
  let p = 0
  for (let open = queues.filter(ready); open.length > 0; open = queues.filter(ready)) {
    const q = open[(picks[p++ % Math.max(1, picks.length)] ?? 0) % open.length]
    const s = q.source
    const piece = s.pieces[q.next++]
    if (s.kind === 'text') chunks.push(make({content: piece}))
    else if (s.kind === 'refusal') chunks.push(make({refusal: piece}))
    else
      chunks.push(
        make({
          tool_calls: [
            {
              index: s.index,
              ...(q.next === 1 && {id: `call_${s.index}`, type: 'function'}),
              function: {...(q.next === 1 && {name: s.name}), arguments: piece},
            },
          ],
        }),
      )
  }

  chunks.push(make({}, finish))
  const batches: ChatChunk[][] = []
  for (let at = 0, c = 0; at < chunks.length; c++) {
    const size = 1 + (cuts[c % Math.max(1, cuts.length)] ?? 0)
    batches.push(chunks.slice(at, at + size))
    at += size
  }

  return batches
}

function completionOf(sources: Source[], finish: ChatFinishReason): ChatCompletion {
  const joined = (kind: string) =>
    sources
      .filter((s) => s.kind === kind)
      .flatMap((s) => s.pieces)
      .join('')
  const calls = sources.flatMap((s) =>
    s.kind === 'call'
      ? [{id: `call_${s.index}`, type: 'function' as const, function: {name: s.name, arguments: s.pieces.join('')}}]
      : [],
  )
  const text = joined('text')
  return {
    id: 'chatcmpl-p',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text === '' && calls.length > 0 ? null : text,
          refusal: joined('refusal') || null,
          ...(calls.length > 0 && {tool_calls: calls}),
        },
        logprobs: null,
        finish_reason: finish,
      },
    ],
    usage: {prompt_tokens: 5, completion_tokens: 7, total_tokens: 12},
  }
}

describe('Responses stream encoder: property', () => {
  it("for any chat stream, the streamed text and calls equal the non-stream Response's, and every event validates", () => {
    const plan = decodeResponsesRequest({
      model: 'm',
      input: 'go',
      tools: [
        {type: 'function', name: 'get_weather'},
        {type: 'function', name: 'lookup'},
        {type: 'custom', name: 'run_sql'},
      ],
    })
    const piece = fc.string({maxLength: 5, unit: fc.constantFrom('a', ' ', '"', '\\', '{', '}', 'é', '😀', '\n')})
    const pieces = fc.array(piece, {maxLength: 6})
    const call = fc.record({
      name: fc.constantFrom('get_weather', 'lookup', 'run_sql'),
      pieces: fc.array(piece, {minLength: 1, maxLength: 6}),
    })
    fc.assert(
      fc.property(
        pieces,
        fc.option(fc.array(piece, {minLength: 1, maxLength: 3}), {freq: 5}),
        fc.array(call, {maxLength: 3}),
        fc.array(fc.nat(20), {maxLength: 30}),
        fc.array(fc.nat(3), {maxLength: 10}),
        fc.constantFrom<ChatFinishReason>('stop', 'length', 'tool_calls', 'content_filter'),
        (text, refusal, calls, picks, cuts, finish) => {
          const sources: Source[] = [
            {kind: 'text', pieces: text},
            ...(refusal ? [{kind: 'refusal' as const, pieces: refusal}] : []),
            ...calls.map((c, index) => ({kind: 'call' as const, index, ...c})),
          ]
          const encoder = new ResponsesEncoder(plan, {id: 'resp_p', createdAt: 1, newId: counter()})
          const body =
            chunksOf(sources, picks, cuts, finish)
              .map((b) => encoder.push(b, 0))
              .join('') + encoder.end({prompt_tokens: 5, completion_tokens: 7, total_tokens: 12})
          const events = responsesEvents(body)
          const whole = chatCompletionToResponse(completionOf(sources, finish), plan, {
            id: 'resp_p',
            createdAt: 1,
            newId: counter(),
          })
          assertSchema('Response', whole)
          assertSchema('Response', encoder.response)
          const expected = foldOutput(whole.output)
          assert.deepEqual(foldEvents(events), expected)
          assert.deepEqual(foldOutput(encoder.response!.output), expected)
          assert.deepEqual(
            [encoder.response!.status, encoder.response!.incomplete_details, encoder.response!.usage],
            [whole.status, whole.incomplete_details, whole.usage],
          )
          assert.equal(events.at(-1)!.type, `response.${whole.status}`)
        },
      ),
      {numRuns: 150},
    )
  })
})
