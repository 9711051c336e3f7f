import assert from 'node:assert/strict'
import {randomUUID} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {describe, it} from 'node:test'

import {request} from 'undici'

import type {ChatChunk} from '../../src/daemon/protocols/chat/types.js'
import {
  WebInBandError,
  WebNoAnswerError,
  conversationEventToChatChunks,
  endConversation,
  newWebStreamState,
} from '../../src/daemon/protocols/chatgpt-web/stream.js'
import type {WebEvent} from '../../src/daemon/protocols/chatgpt-web/types.js'
import {webErrorVerdict} from '../../src/daemon/protocols/chatgpt-web/verdict.js'
import {DONE, SseParser} from '../../src/daemon/sse.js'
import {
  FakeChatGPTWeb,
  THINKING,
  type WebFault,
  type WebFormat,
  type WebShape,
  markSegments,
  sseEvents,
  splitWords,
  webHttpFault,
} from './fake-chatgpt-web.js'

type Obj = Record<string, unknown>
type Reply = {status: number; headers: Record<string, string>; text: string}

const ALICE = 'alice@example.com'
const HISTORY = ['You are terse.', 'My name is Ada.', 'Nice to meet you, Ada.', 'What is my name?']
const ANSWER = 'Web answer to: What is my name?'

/** A conversation request carrying system, user, assistant, user. */
function body(): Obj {
  const roles = ['system', 'user', 'assistant', 'user']
  return {
    action: 'next',
    messages: HISTORY.map((text, i) => ({
      id: randomUUID(),
      author: {role: roles[i]},
      content: {content_type: 'text', parts: [text]},
      metadata: {},
    })),
    parent_message_id: randomUUID(),
    model: 'gpt-4o',
    history_and_training_disabled: true,
  }
}

async function converse(fake: FakeChatGPTWeb, token: string): Promise<Reply> {
  const res = await request(`${fake.origin}/backend-api/conversation`, {
    method: 'POST',
    headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json'},
    body: JSON.stringify(body()),
    signal: AbortSignal.timeout(5_000),
  })
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(res.headers))
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v
  return {status: res.statusCode, headers, text: await res.body.text()}
}

/** The stream's data events, parsed (`[DONE]` kept as the string). */
function dataOf(reply: Reply): unknown[] {
  assert.equal(reply.status, 200, reply.text)
  const parser = new SseParser()
  return [...parser.push(Buffer.from(reply.text)), ...parser.end()].map((e) =>
    e.data === DONE ? DONE : (JSON.parse(e.data) as unknown),
  )
}

/** The stream through the converter: the client's text, reasoning and finish, or the error. */
function convert(data: unknown[]): {
  text: string
  reasoning: string
  finish: string | null | undefined
  error?: unknown
} {
  const state = newWebStreamState('gpt-4o', {reasoning: true})
  const chunks: ChatChunk[] = []
  try {
    for (const d of data)
      chunks.push(...(d === DONE ? endConversation(state) : conversationEventToChatChunks(d as WebEvent, state)))
  } catch (error) {
    return {text: '', reasoning: '', finish: undefined, error}
  }

  const join = (key: 'content' | 'reasoning_content') => chunks.map((c) => c.choices[0].delta[key] ?? '').join('')
  return {text: join('content'), reasoning: join('reasoning_content'), finish: chunks.at(-1)?.choices[0].finish_reason}
}

async function withFake(fn: (fake: FakeChatGPTWeb, token: string) => Promise<void>): Promise<void> {
  const fake = await FakeChatGPTWeb.start()
  try {
    await fn(fake, fake.issueAccessToken(ALICE))
  } finally {
    await fake.close()
  }
}

const types = (data: unknown[]) => data.map((d) => (d as Obj).type).filter((t): t is string => typeof t === 'string')
const ops = (data: unknown[]): Obj[] =>
  data.flatMap((d) => (Array.isArray((d as Obj).v) ? ((d as Obj).v as Obj[]) : [d as Obj]))

describe('FakeChatGPTWeb stream shapes', {timeout: 30_000}, () => {
  it('every shape, alone and all together, in both formats: the converter gets exactly the answer', async () => {
    await withFake(async (fake, token) => {
      const all: WebShape[] = ['echo', 'events', 'mixed-batch', 'truncate', 'thinking', 'marks']
      for (const format of ['cumulative', 'patch'] as WebFormat[]) {
        for (const shapes of [[], ...all.map((s) => [s]), all]) {
          fake.set({format, shapes})
          const result = convert(dataOf(await converse(fake, token)))
          const label = `${format} ${shapes.join('+') || 'plain'}`
          assert.equal(result.error, undefined, label)
          assert.deepEqual([result.text, result.finish], [ANSWER, 'stop'], label)
          assert.equal(
            result.reasoning,
            shapes.includes('thinking') ? [...THINKING.thoughts, THINKING.analysis].join('\n\n') : '',
            label,
          )
        }
      }
    })
  })

  it('echo: the request again, already finished; patch: the last user message as input_message', async () => {
    await withFake(async (fake, token) => {
      fake.set({shapes: ['echo']})
      const cumulative = dataOf(await converse(fake, token))
        .slice(0, 4)
        .map((d) => (d as {message: Obj}).message)
      assert.deepEqual(
        cumulative.map((m) => (m.content as {parts: string[]}).parts[0]),
        HISTORY,
      )
      assert.ok(cumulative.every((m) => m.status === 'finished_successfully' && m.end_turn === null))
      fake.set({format: 'patch'})
      const patch = dataOf(await converse(fake, token))
      assert.deepEqual(
        patch.slice(1, 4).map((d) => (d as {v: {message: {content: {parts: string[]}}}}).v.message.content.parts[0]),
        HISTORY.slice(0, 3),
      )
      assert.equal((patch[4] as Obj).type, 'input_message')
    })
  })

  it('events, mixed-batch, truncate, thinking and marks put their events in the stream', async () => {
    await withFake(async (fake, token) => {
      fake.set({format: 'patch', shapes: ['events']})
      assert.deepEqual(types(dataOf(await converse(fake, token))), [
        'server_ste_metadata',
        'message_marker',
        'title_generation',
        'conversation_detail_metadata',
        'moderation',
        'message_stream_complete',
        'conversation_detail_metadata',
      ])
      fake.set({shapes: ['mixed-batch']})
      const mixed = dataOf(await converse(fake, token))
      const batch = mixed.findIndex(
        (d) => (d as Obj).o === 'patch' && ((d as Obj).v as Obj[]).at(-1)?.p === '/message/metadata/content_references',
      )
      assert.ok(batch > 0)
      assert.deepEqual(Object.keys(mixed[batch + 1] as Obj), ['v'], 'a bare text follows the batch')
      fake.set({shapes: ['truncate']})
      assert.deepEqual(
        ops(dataOf(await converse(fake, token)))
          .filter((o) => o.p === '/message/content/parts/0' && o.o !== 'append')
          .map((o) => o.o),
        ['truncate', 'truncate', 'replace'],
      )
      fake.set({shapes: ['thinking']})
      const thinking = dataOf(await converse(fake, token)).map(
        (d) => ((d as {v?: {message?: Obj}}).v?.message ?? {}) as Obj,
      )
      assert.deepEqual(
        thinking.filter((m) => m.content).map((m) => [(m.content as Obj).content_type, m.channel]),
        [
          ['thoughts', 'analysis'],
          ['reasoning_recap', undefined],
          ['text', 'analysis'],
          ['text', 'final'],
        ],
      )
      const marked = markSegments(splitWords(ANSWER))
      assert.ok(
        marked.join('').includes('\uE203') &&
          marked.join('').includes('【0†source】') &&
          marked.every((p) => Array.from(p).length <= 5),
      )
    })
  })

  it('faults: handoff, a moderation block and an error after text', async () => {
    await withFake(async (fake, token) => {
      for (const format of ['cumulative', 'patch'] as WebFormat[]) {
        fake.set({format})
        fake.fault(ALICE, {type: 'handoff'})
        const handoff = dataOf(await converse(fake, token))
        assert.ok(types(handoff).includes('stream_handoff'))
        assert.ok(convert(handoff).error instanceof WebNoAnswerError, format)
        fake.fault(ALICE, {type: 'moderation', afterSegments: 2})
        assert.deepEqual(
          convert(dataOf(await converse(fake, token))),
          {text: 'Web answer ', reasoning: '', finish: 'content_filter'},
          format,
        )
        fake.fault(ALICE, {
          type: 'error-after-text',
          message: 'Something went wrong.',
          code: 'conversation_generation_error',
          afterSegments: 3,
        })
        const data = dataOf(await converse(fake, token))
        assert.equal(data.at(-1), DONE)
        const failed = convert(data)
        assert.ok(
          failed.error instanceof WebInBandError && failed.error.upstreamCode === 'conversation_generation_error',
          format,
        )
        const sent = data
          .slice(0, -2)
          .map((d) => (d as {message?: {content?: {parts?: string[]}}}).message?.content?.parts?.[0])
          .filter((t) => t !== undefined)
        if (format === 'cumulative') assert.equal(sent.at(-1), 'Web answer to: ')
      }
    })
  })

  it('HTTP errors of today: status, body and headers as the backend sends them, no Retry-After', async () => {
    await withFake(async (fake, token) => {
      const expect: Array<[Parameters<typeof webHttpFault>[0], number, string]> = [
        ['challenge', 403, 'cooldown'],
        ['unusual-activity', 403, 'cooldown'],
        ['model-cap', 429, 'cooldown'],
        ['too-long', 413, 'client'],
        ['token-invalidated', 401, 'disable'],
        ['token-expired', 401, 'refresh'],
        ['deactivated', 401, 'disable'],
      ]
      for (const [kind, status, verdict] of expect) {
        fake.fault(ALICE, webHttpFault(kind, {clearsInS: 30}))
        const reply = await converse(fake, token)
        assert.equal(reply.status, status, kind)
        assert.equal(reply.headers['retry-after'], undefined, kind)
        assert.equal(webErrorVerdict(reply.status, reply.headers, reply.text, 'gpt-4o')?.kind, verdict, kind)
      }

      fake.fault(ALICE, webHttpFault('challenge'))
      const challenge = await converse(fake, token)
      assert.equal(challenge.headers['cf-mitigated'], 'challenge')
      assert.match(challenge.headers['content-type'], /^text\/html/)
      assert.match(challenge.text, /Just a moment/)
      fake.fault(ALICE, webHttpFault('model-cap', {clearsInS: 30}))
      assert.deepEqual(JSON.parse((await converse(fake, token)).text), {
        detail: {
          clears_in: 30,
          code: 'model_cap_exceeded',
          message: 'You have sent too many messages to the model. Please try again later.',
        },
      })
      const fault: WebFault = webHttpFault('too-long')
      assert.equal(fault.type, 'status')
    })
  })

  it('sseEvents + script() replay a transcript byte for byte', async () => {
    await withFake(async (fake, token) => {
      for (const name of ['echo-patch.sse', 'marks-cumulative.sse', 'thinking-patch.sse']) {
        const text = readFileSync(new URL(`../fixtures/chatgpt-web/${name}`, import.meta.url), 'utf8')
        fake.script(ALICE, sseEvents(text))
        assert.equal((await converse(fake, token)).text, text, name)
      }
    })
  })
})
