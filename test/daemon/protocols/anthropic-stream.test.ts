import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'

import type {
  ChatChunk,
  ChatCompletion,
  ChatDelta,
  ChatFinishReason,
  ChatToolCall,
  ChatUsage,
} from '../../../src/daemon/protocols/chat/types.js'
import {chatCompletionToMessage} from '../../../src/daemon/protocols/anthropic/response.js'
import {MessagesEncoder} from '../../../src/daemon/protocols/anthropic/stream.js'
import type {MessagesEcho} from '../../../src/daemon/protocols/anthropic/types.js'
import {
  foldAnthropicEvents as fold,
  parseAnthropicSse as parse,
  type SseEvent as Event,
} from '../../helpers/anthropic.js'
import {assertSchema} from '../../helpers/openapi.js'

const plan = (extra: Partial<MessagesEcho> = {}): {echo: MessagesEcho} => ({
  echo: {model: 'claude-sonnet-4-5', toolNames: new Map(), stopSequences: [], thinking: false, ...extra},
})

const chunk = (
  delta: ChatDelta,
  finish: ChatFinishReason | null = null,
  extra: Record<string, unknown> = {},
): ChatChunk => ({
  id: 'chatcmpl-s',
  object: 'chat.completion.chunk',
  created: 1_700_000_001,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [{index: 0, delta, logprobs: null, finish_reason: finish, ...extra}],
})

const usageChunk = (usage: ChatUsage): ChatChunk => ({
  id: 'chatcmpl-s',
  object: 'chat.completion.chunk',
  created: 1_700_000_001,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [],
  usage,
})

const USAGE: ChatUsage = {
  prompt_tokens: 50,
  completion_tokens: 12,
  total_tokens: 62,
  prompt_tokens_details: {cached_tokens: 32},
}
const FINAL_USAGE = {input_tokens: 18, output_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 32}

/** Runs chunks through a fresh encoder, one push per chunk, and ends with USAGE; chunks are OpenAI-valid unless `openai` is false. */
function encode(chunks: readonly ChatChunk[], echo = plan(), openai = true): {text: string; events: Event[]} {
  const encoder = new MessagesEncoder(echo, {id: 'msg_test', inputTokens: 45})
  let text = ''
  for (const c of chunks) {
    if (openai && c.choices.length > 0) assertSchema('CreateChatCompletionStreamResponse', c)
    text += encoder.push([c], 0)
  }

  text += encoder.end(USAGE)
  return {text, events: parse(text)}
}

const START = {
  type: 'message_start',
  message: {
    id: 'msg_test',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: {input_tokens: 45, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0},
  },
}
const PING = {type: 'ping'}
const STOP = {type: 'message_stop'}
const end = (stop_reason: string, stop_sequence: string | null = null) => [
  {type: 'message_delta', delta: {stop_reason, stop_sequence}, usage: FINAL_USAGE},
  STOP,
]
const textStart = (index: number) => ({type: 'content_block_start', index, content_block: {type: 'text', text: ''}})
const toolStart = (index: number, id: string, name: string) => ({
  type: 'content_block_start',
  index,
  content_block: {type: 'tool_use', id, name, input: {}},
})
const textDelta = (index: number, text: string) => ({
  type: 'content_block_delta',
  index,
  delta: {type: 'text_delta', text},
})
const jsonDelta = (index: number, partial_json: string) => ({
  type: 'content_block_delta',
  index,
  delta: {type: 'input_json_delta', partial_json},
})
const blockStop = (index: number) => ({type: 'content_block_stop', index})

describe('chat stream → Anthropic SSE', () => {
  it('streams text: message_start, ping, one text block opened on the first non-empty content, then the usage at the end', () => {
    const {text, events} = encode([
      chunk({role: 'assistant', content: ''}),
      chunk({content: 'Hel'}),
      chunk({content: 'lo'}),
      chunk({}, 'stop'),
      usageChunk(USAGE),
    ])
    assert.deepEqual(events, [
      START,
      PING,
      textStart(0),
      textDelta(0, 'Hel'),
      textDelta(0, 'lo'),
      blockStop(0),
      ...end('end_turn'),
    ])
    assert.ok(text.startsWith('event: message_start\ndata: {"type":"message_start","message":{"id":"msg_test",'))
    assert.ok(text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n'))
    assert.equal(text.includes('[DONE]'), false)
  })

  it('streams text then two parallel tool calls with fragmented arguments, as servers really send them', () => {
    const {events} = encode([
      chunk({role: 'assistant', content: 'Checking.', tool_calls: []}),
      chunk({content: '', tool_calls: []}),
      // the first fragment bundled with the name
      chunk({
        tool_calls: [{index: 0, id: 'call_a', type: 'function', function: {name: 'get_weather', arguments: '{"ci'}}],
      }),
      // the id repeated on a later chunk
      chunk({tool_calls: [{index: 0, id: 'call_a', function: {arguments: 'ty":"Paris"}'}}]}),
      chunk({tool_calls: [{index: 1, id: 'call_b', type: 'function', function: {name: 'get_time', arguments: ''}}]}),
      chunk({tool_calls: [{index: 1, function: {arguments: '{"tz":'}}]}),
      // the last fragment on the finish chunk
      chunk({tool_calls: [{index: 1, function: {arguments: '"CET"}'}}]}, 'tool_calls'),
      usageChunk(USAGE),
    ])
    assert.deepEqual(events, [
      START,
      PING,
      textStart(0),
      textDelta(0, 'Checking.'),
      blockStop(0),
      toolStart(1, 'call_a', 'get_weather'),
      jsonDelta(1, '{"ci'),
      jsonDelta(1, 'ty":"Paris"}'),
      blockStop(1),
      toolStart(2, 'call_b', 'get_time'),
      jsonDelta(2, '{"tz":'),
      jsonDelta(2, '"CET"}'),
      blockStop(2),
      ...end('tool_use'),
    ])
    assert.deepEqual(fold(events).content, [
      {type: 'text', text: 'Checking.'},
      {type: 'tool_use', id: 'call_a', name: 'get_weather', input: {city: 'Paris'}},
      {type: 'tool_use', id: 'call_b', name: 'get_time', input: {tz: 'CET'}},
    ])
  })

  it('opens a new text block for text after a tool call, and maps tool names back', () => {
    const {events} = encode(
      [
        chunk({
          role: 'assistant',
          tool_calls: [
            {index: 0, id: 'call_x', type: 'function', function: {name: 'my_tool_1a2b3c4d', arguments: '{}'}},
          ],
        }),
        chunk({content: 'Done.'}),
        chunk({}, 'stop'),
      ],
      plan({toolNames: new Map([['my_tool_1a2b3c4d', 'my.tool']])}),
    )
    assert.deepEqual(events, [
      START,
      PING,
      toolStart(0, 'call_x', 'my.tool'),
      jsonDelta(0, '{}'),
      blockStop(0),
      textStart(1),
      textDelta(1, 'Done.'),
      blockStop(1),
      ...end('tool_use'),
    ])
  })

  it('ends with max_tokens when the answer was cut', () => {
    const {events} = encode([chunk({content: 'Once upon'}), chunk({}, 'length')])
    assert.deepEqual(events, [START, PING, textStart(0), textDelta(0, 'Once upon'), blockStop(0), ...end('max_tokens')])
  })

  it('ends with refusal on content_filter, and streams an OpenAI refusal as text', () => {
    assert.deepEqual(encode([chunk({content: 'Sure'}), chunk({}, 'content_filter')]).events, [
      START,
      PING,
      textStart(0),
      textDelta(0, 'Sure'),
      blockStop(0),
      ...end('refusal'),
    ])
    assert.deepEqual(encode([chunk({role: 'assistant', content: null, refusal: 'No.'}), chunk({}, 'stop')]).events, [
      START,
      PING,
      textStart(0),
      textDelta(0, 'No.'),
      blockStop(0),
      ...end('refusal'),
    ])
  })

  it('says stop_sequence when the upstream names it on the finish chunk', () => {
    const {events} = encode(
      [chunk({content: 'a'}), chunk({}, 'stop', {stop_reason: 'END'})],
      plan({stopSequences: ['END']}),
    )
    assert.deepEqual(events.slice(-2), end('stop_sequence', 'END'))
  })

  it('sends an in-band error when the answer breaks off, and nothing after it', () => {
    const encoder = new MessagesEncoder(plan(), {id: 'msg_test', inputTokens: 45})
    const head = encoder.push([chunk({role: 'assistant', content: 'Par'})], 0)
    const error = encoder.fail({
      status: 503,
      message: 'The upstream is overloaded.',
      type: 'server_error',
      code: null,
      param: null,
    })
    assert.deepEqual(parse(head + error), [
      START,
      PING,
      textStart(0),
      textDelta(0, 'Par'),
      {type: 'error', error: {type: 'overloaded_error', message: 'The upstream is overloaded.'}},
    ])
    assert.equal(
      error,
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"The upstream is overloaded."}}\n\n',
    )
    assert.equal(encoder.push([chunk({content: 'is'})], 0), '')
    assert.equal(encoder.end(USAGE), '')
    assert.equal(encoder.fail({status: 500, message: 'again', type: 'server_error', code: null, param: null}), '')
  })

  it('streams reasoning as a thinking block only when thinking was asked', () => {
    const chunks = [
      chunk({role: 'assistant', reasoning_content: 'Hmm'}),
      chunk({reasoning_content: '…'}),
      chunk({content: 'Yes.'}),
      chunk({}, 'stop'),
    ]
    assert.deepEqual(encode(chunks, plan({thinking: true})).events, [
      START,
      PING,
      {type: 'content_block_start', index: 0, content_block: {type: 'thinking', thinking: '', signature: ''}},
      {type: 'content_block_delta', index: 0, delta: {type: 'thinking_delta', thinking: 'Hmm'}},
      {type: 'content_block_delta', index: 0, delta: {type: 'thinking_delta', thinking: '…'}},
      blockStop(0),
      textStart(1),
      textDelta(1, 'Yes.'),
      blockStop(1),
      ...end('end_turn'),
    ])
    assert.deepEqual(encode(chunks).events, [
      START,
      PING,
      textStart(0),
      textDelta(0, 'Yes.'),
      blockStop(0),
      ...end('end_turn'),
    ])
  })

  it('ignores other choices and other parts, and still answers when the upstream sent nothing', () => {
    const encoder = new MessagesEncoder(plan(), {id: 'msg_test', inputTokens: 45})
    assert.equal(encoder.push([chunk({content: 'x'})], 1), '', 'a part > 0 writes nothing and keeps nothing')
    const other: ChatChunk = {
      ...chunk({content: 'other'}),
      choices: [{index: 1, delta: {content: 'other'}, finish_reason: null}],
    }
    const out = encoder.push([other], 0) + encoder.end(USAGE)
    assert.deepEqual(parse(out), [START, PING, ...end('end_turn')])
  })

  it('opens a call whose name comes after its first fragment, and tells calls apart by id when the index is missing', () => {
    const late = encode([
      chunk({tool_calls: [{index: 0, id: 'call_1', function: {arguments: '{"a"'}}]}),
      chunk({tool_calls: [{index: 0, function: {name: 'f', arguments: ':1}'}}]}),
      chunk({}, 'tool_calls'),
    ])
    assert.deepEqual(late.events, [
      START,
      PING,
      toolStart(0, 'call_1', 'f'),
      jsonDelta(0, '{"a":1}'),
      blockStop(0),
      ...end('tool_use'),
    ])
    // some OpenAI-compatible servers (Gemini's) leave out `index`
    const noIndex = encode(
      [
        chunk({tool_calls: [{id: 'call_1', type: 'function', function: {name: 'f', arguments: '{}'}}] as never}),
        chunk({tool_calls: [{id: 'call_2', type: 'function', function: {name: 'g', arguments: '{"b":'}}] as never}),
        chunk({tool_calls: [{function: {arguments: '2}'}}] as never}),
        chunk({}, 'tool_calls'),
      ],
      plan(),
      false,
    )
    assert.deepEqual(fold(noIndex.events).content, [
      {type: 'tool_use', id: 'call_1', name: 'f', input: {}},
      {type: 'tool_use', id: 'call_2', name: 'g', input: {b: 2}},
    ])
  })
})

/** One generated answer and the way a server might stream it. */
type Answer = {
  reasoning: string[]
  text: string[]
  calls: Array<{name: string; args: Record<string, unknown>; cuts: number[]; bundle: boolean; repeatId: boolean}>
  finish: ChatFinishReason
  lastOnFinish: boolean
  emptyToolCalls: boolean
  thinking: boolean
  usage: ChatUsage
  batches: number[]
}

/** The chunks a server streams for an answer. */
function chunksOf(a: Answer): ChatChunk[] {
  const out: ChatChunk[] = [chunk({role: 'assistant', content: ''})]
  for (const piece of a.reasoning) out.push(chunk({reasoning_content: piece}))
  for (const piece of a.text) out.push(chunk({content: piece, ...(a.emptyToolCalls && {tool_calls: []})}))
  for (const [i, call] of a.calls.entries()) {
    const args = JSON.stringify(call.args)
    const cuts = [...new Set(call.cuts.map((c) => c % (args.length + 1)))].sort((x, y) => x - y)
    const fragments = [0, ...cuts, args.length].slice(1).map((to, k, all) => args.slice(k === 0 ? 0 : all[k - 1], to))
    const first = call.bundle ? fragments.shift()! : ''
    out.push(
      chunk({
        tool_calls: [{index: i, id: `call_${i}`, type: 'function', function: {name: call.name, arguments: first}}],
      }),
    )
    for (const fragment of fragments)
      out.push(
        chunk({tool_calls: [{index: i, ...(call.repeatId && {id: `call_${i}`}), function: {arguments: fragment}}]}),
      )
  }

  const last = out.at(-1)!
  if (a.lastOnFinish && last.choices[0]!.delta.tool_calls) last.choices[0]!.finish_reason = a.finish
  else out.push(chunk({}, a.finish))
  out.push(usageChunk(a.usage))
  return out
}

/** The non-stream completion of the same answer. */
function completionOf(a: Answer): ChatCompletion {
  const calls: ChatToolCall[] = a.calls.map((c, i) => ({
    id: `call_${i}`,
    type: 'function',
    function: {name: c.name, arguments: JSON.stringify(c.args)},
  }))
  const reasoning = a.reasoning.join('')
  return {
    id: 'chatcmpl-s',
    object: 'chat.completion',
    created: 1_700_000_001,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: a.text.join(''),
          refusal: null,
          ...(calls.length > 0 && {tool_calls: calls}),
          ...(reasoning && {reasoning_content: reasoning}),
        },
        logprobs: null,
        finish_reason: a.finish,
      },
    ],
    usage: a.usage,
  }
}

const piece = fc.string({maxLength: 5, unit: fc.constantFrom('a', ' ', '\n', 'é', '😀', '"', '{')})
const json = fc.dictionary(
  fc.string({maxLength: 4}),
  fc.oneof(
    fc.integer(),
    fc.string({maxLength: 6}),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer(), {maxLength: 3}),
  ),
  {maxKeys: 4},
)
const answer: fc.Arbitrary<Answer> = fc.record({
  reasoning: fc.array(piece, {maxLength: 4}),
  text: fc.array(piece, {maxLength: 6}),
  calls: fc.array(
    fc.record({
      name: fc.constantFrom('Bash', 'Read', 'mcp__github__create_issue', 'my_tool_1a2b3c4d'),
      args: json,
      cuts: fc.array(fc.nat(), {maxLength: 5}),
      bundle: fc.boolean(),
      repeatId: fc.boolean(),
    }),
    {maxLength: 3},
  ),
  finish: fc.constantFrom<ChatFinishReason>('stop', 'length', 'tool_calls', 'content_filter'),
  lastOnFinish: fc.boolean(),
  emptyToolCalls: fc.boolean(),
  thinking: fc.boolean(),
  usage: fc
    .record({prompt: fc.nat(5000), cached: fc.nat(5000), completion: fc.nat(5000)})
    .map(({prompt, cached, completion}) => ({
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: {cached_tokens: Math.min(prompt, cached)},
    })),
  batches: fc.array(fc.integer({min: 1, max: 4}), {maxLength: 8}),
})

describe('streamed and non-stream answers agree', () => {
  it('property: the events of any chunk stream fold (as the SDK does) into exactly the non-stream message', () => {
    fc.assert(
      fc.property(answer, (a) => {
        const echo = plan({thinking: a.thinking, toolNames: new Map([['my_tool_1a2b3c4d', 'my.tool']])})
        const encoder = new MessagesEncoder(echo, {id: 'msg_p', inputTokens: 7})
        const chunks = chunksOf(a)
        let text = ''
        // the chunks arrive in batches of random size (one upstream read may complete several)
        for (let at = 0, b = 0; at < chunks.length; b++) {
          const size = a.batches[b] ?? 1
          text += encoder.push(chunks.slice(at, at + size), 0)
          at += size
        }

        text += encoder.end(a.usage)
        const streamed = fold(parse(text))
        assert.deepEqual(streamed, chatCompletionToMessage(completionOf(a), echo, {id: 'msg_p'}))
      }),
      {numRuns: 300},
    )
  })
})
