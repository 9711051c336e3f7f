import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'

import {decodeMessagesRequest} from '../../src/daemon/protocols/anthropic/request.js'
import type {Message} from '../../src/daemon/protocols/anthropic/types.js'
import {InvalidRequestError} from '../../src/daemon/protocols/errors.js'
import {assertSchema} from './openapi.js'

/** Fixtures and checks for Anthropic Messages requests and streams. */

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/** A valid Messages body with `extra` merged in. */
export const body = (extra: Record<string, unknown> = {}) => ({
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  messages: [{role: 'user', content: 'Hi'}],
  ...extra,
})

/** The chat request of a body; it must be a valid OpenAI chat request. */
export const chatOf = (extra: Record<string, unknown> = {}) => {
  const {chat} = decodeMessagesRequest(body(extra))
  assertSchema('CreateChatCompletionRequest', chat)
  return chat
}

export const messagesOf = (messages: unknown[], extra: Record<string, unknown> = {}) =>
  chatOf({messages, ...extra}).messages

/** For assert.throws: a 400 naming `param`, whose message starts with it (Anthropic's error body has no param field) or equals `message`. */
export const bad = (param: string, message?: string) => (e: unknown) => {
  assert.ok(e instanceof InvalidRequestError, `expected InvalidRequestError, got ${String(e)}`)
  assert.equal(e.status, 400)
  assert.equal(e.param, param)
  if (message === undefined) assert.ok(e.message.startsWith(`${param}: `), e.message)
  else assert.equal(e.message, message)
  return true
}

/** A client tool whose schema looks like Claude Code's (`$schema`, `additionalProperties: false`). */
export const tool = (name: string, properties: Record<string, unknown> = {x: {type: 'string'}}) => ({
  name,
  description: `${name} tool`,
  input_schema: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  },
})

/** A request as Claude Code sends it (shapes from 2.1.x captures), trimmed to what matters here. */
export function claudeCodeRequest() {
  const names = [
    'Task',
    'Bash',
    'Glob',
    'Grep',
    'LS',
    'ExitPlanMode',
    'Read',
    'Edit',
    'MultiEdit',
    'Write',
    'NotebookEdit',
    'WebFetch',
    'TodoWrite',
    'WebSearch',
    'BashOutput',
    'KillShell',
    'SlashCommand',
  ]
  const mcp = ['mcp__ide__getDiagnostics', 'mcp__github__create_pull_request']
  return {
    model: 'claude-sonnet-4-5-20250929',
    max_tokens: 32_000,
    stream: true,
    system: [
      {type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.88.a3f; cc_entrypoint=cli; cch=5e1f0;'},
      {
        type: 'text',
        text: "You are Claude Code, Anthropic's official CLI for Claude.",
        cache_control: {type: 'ephemeral'},
      },
      {
        type: 'text',
        text: 'You are an interactive CLI tool that helps users with software engineering tasks.',
        cache_control: {type: 'ephemeral'},
      },
    ],
    tools: [...names, ...mcp].map((name) =>
      tool(name, {command: {type: 'string', description: 'what to run'}, timeout: {type: 'number'}}),
    ),
    messages: [
      {
        role: 'user',
        content: [
          {type: 'text', text: '<system-reminder>As you answer the user, use this context.</system-reminder>'},
          {type: 'text', text: 'List the files here', cache_control: {type: 'ephemeral'}},
        ],
      },
      {
        role: 'assistant',
        content: [
          {type: 'thinking', thinking: 'The user wants a listing.', signature: 'EqQBCkYIBxgCKkD'},
          {type: 'text', text: "I'll list them."},
          {type: 'tool_use', id: 'toolu_01A', name: 'Bash', input: {command: 'ls', timeout: 5}},
        ],
      },
      {
        role: 'user',
        content: [
          {type: 'tool_result', tool_use_id: 'toolu_01A', content: 'a.txt\nb.txt', cache_control: {type: 'ephemeral'}},
          {type: 'text', text: "<system-reminder>The TodoWrite tool hasn't been used recently.</system-reminder>"},
        ],
      },
    ],
    thinking: {type: 'adaptive'},
    output_config: {effort: 'high'},
    context_management: {edits: [{type: 'clear_thinking_20251015', keep: 'all'}]},
    metadata: {
      user_id: 'user_1a2b3c_account_0f0e0d0c-0000-4000-8000-000000000001_session_5a5b5c5d-0000-4000-8000-000000000002',
    },
  }
}

export type SseEvent = {type: string; index?: number; [key: string]: unknown}

/** SSE text → events; every event has an `event:` line naming the `type` of its data (the SDK skips events without one). */
export function parseAnthropicSse(text: string): SseEvent[] {
  assert.ok(text === '' || text.endsWith('\n\n'), 'events end with a blank line')
  return text
    .split('\n\n')
    .filter((frame) => frame !== '')
    .map((frame) => {
      const lines = frame.split('\n')
      assert.equal(lines.length, 2, `one event line and one data line: ${frame}`)
      const name = /^event: (\w+)$/.exec(lines[0]!)?.[1]
      assert.ok(lines[1]!.startsWith('data: '), frame)
      const data = JSON.parse(lines[1]!.slice(6)) as SseEvent
      assert.equal(data.type, name, 'event name = data type')
      return data
    })
}

type Fold = {message: Message; open: number | undefined; json: Map<number, string>}

function applyDelta(state: Fold, event: SseEvent): void {
  assert.equal(event.index, state.open, 'a delta only for the open block')
  const block = state.message.content[state.open!] as Record<string, unknown>
  const delta = event.delta as {type: string; text?: string; partial_json?: string; thinking?: string}
  if (delta.type === 'text_delta') {
    assert.equal(block.type, 'text')
    assert.notEqual(delta.text, '')
    block.text = `${block.text as string}${delta.text!}`
  } else if (delta.type === 'thinking_delta') {
    assert.equal(block.type, 'thinking')
    block.thinking = `${block.thinking as string}${delta.thinking!}`
  } else {
    assert.equal(delta.type, 'input_json_delta')
    assert.equal(block.type, 'tool_use')
    assert.notEqual(delta.partial_json, '', 'no empty input_json_delta')
    state.json.set(state.open!, (state.json.get(state.open!) ?? '') + delta.partial_json!)
  }
}

function applyStop(state: Fold, event: SseEvent): void {
  assert.equal(event.index, state.open, 'stop the open block')
  const block = state.message.content[state.open!] as Record<string, unknown>
  if (block.type === 'text') assert.notEqual(block.text, '', 'never an empty text block')
  if (state.json.has(state.open!)) block.input = JSON.parse(state.json.get(state.open!)!)
  state.open = undefined
}

function applyMessageDelta(state: Fold, event: SseEvent): void {
  assert.equal(state.open, undefined, 'blocks closed before message_delta')
  const {delta, usage} = event as unknown as {
    delta: Pick<Message, 'stop_reason' | 'stop_sequence'>
    usage: Record<string, number | null>
  }
  state.message.stop_reason = delta.stop_reason
  state.message.stop_sequence = delta.stop_sequence
  state.message.usage.output_tokens = usage.output_tokens!
  for (const key of ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const)
    if (usage[key] !== null && usage[key] !== undefined) state.message.usage[key] = usage[key]
}

/**
 * Apply events the way @anthropic-ai/sdk's MessageStream does (keep content_block_start's
 * block, append text and thinking deltas, concatenate input_json_delta and parse it at stop,
 * message_delta sets the stop fields, overwrites output_tokens and every other count that is
 * not null) — and check the order a strict client needs: message_start first, then ping,
 * blocks numbered in order, deltas only for the open block, no empty text block, message_stop last.
 */
export function foldAnthropicEvents(events: readonly SseEvent[]): Message {
  assert.equal(events[0]?.type, 'message_start')
  assert.equal(events[1]?.type, 'ping')
  assert.equal(events.at(-1)?.type, 'message_stop')
  const state: Fold = {
    message: structuredClone((events[0] as unknown as {message: Message}).message),
    open: undefined,
    json: new Map(),
  }
  assert.equal(state.message.content.length, 0)
  for (const event of events.slice(2, -1)) {
    if (event.type === 'content_block_start') {
      assert.equal(state.open, undefined, 'one block open at a time')
      assert.equal(event.index, state.message.content.length, 'blocks numbered in order')
      state.open = event.index
      state.message.content.push({...(event.content_block as Message['content'][number])})
    } else if (event.type === 'content_block_delta') applyDelta(state, event)
    else if (event.type === 'content_block_stop') applyStop(state, event)
    else if (event.type === 'message_delta') applyMessageDelta(state, event)
    else assert.fail(`unexpected event ${event.type}`)
  }

  return state.message
}
