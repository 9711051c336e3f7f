import Anthropic from '@anthropic-ai/sdk'
import assert from 'node:assert/strict'
import {after, afterEach, before, describe, it} from 'node:test'
import OpenAI from 'openai'

import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {importCodexAuth} from '../../src/core/codex-import.js'
import {createContext} from '../../src/core/context.js'
import {readLedger} from '../../src/core/ledger.js'
import {storeOfKind} from '../../src/core/secrets/index.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {type CodexTokens, FakeCodex} from '../helpers/fake-codex.js'
import {assertSchema, parseSseBody} from '../helpers/openapi.js'

type Admin = {
  tokens: Array<{
    label: string
    state: string
    coolingUntil: string | null
    coolingReason: string | null
    limits: {windows: Array<{window: string; usedPercent: number}>} | null
  }>
}
const WEATHER = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather in a city',
  strict: false,
  parameters: {type: 'object', properties: {city: {type: 'string'}}, required: ['city']},
}

/**
 * A ChatGPT plan through its Codex backend (a fake of it), with the official SDKs of every
 * wire the daemon speaks: Responses passed through with the backend's rules applied,
 * chat, legacy completions and Messages through the pivot — streamed and not, with tools;
 * its limits recorded; a capped account resting until its reset.
 */
describe('the ChatGPT plan upstream (codex)', () => {
  let codex: FakeCodex
  let gw: TestDaemon
  let sdk: OpenAI
  let ada: CodexTokens
  let bob: CodexTokens
  const lastBody = () => codex.backend.requests.at(-1)!.body as Record<string, unknown>
  const lastHeaders = () => codex.backend.requests.at(-1)!.headers as Record<string, string>
  const admin = async () => (await (await gw.api('/admin/pool')).json()) as Admin

  const entry = (label: string, tokens: CodexTokens) => ({
    entry: {
      label,
      kind: 'access-token' as const,
      upstream: 'plan',
      store: 'file' as const,
      masked: 'eyJ…',
      addedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      chatgptAccountId: tokens.account_id,
    },
    secret: tokens.access_token,
  })

  before(async () => {
    codex = await FakeCodex.start()
    ada = codex.issueTokens({email: 'ada@example.com'})
    bob = codex.issueTokens({email: 'bob@example.com'})
    gw = await startTestDaemon({
      extra: {
        upstreams: {plan: {protocol: 'codex', baseUrl: codex.baseUrl, authUrl: codex.authUrl}},
        tokens: [entry('ada', ada), entry('bob', bob)],
      },
    })
    sdk = new OpenAI({baseURL: gw.url, apiKey: gw.clientKey, maxRetries: 0})
  })
  afterEach(() => {
    codex.backend.clearFaults()
    gw.daemon.state.pool.update([])
    gw.daemon.state.pool.update(gw.daemon.state.registry.tokens)
  })
  after(async () => {
    await gw?.stop()
    await codex?.close()
  })

  it("Responses, not streamed: the backend's rules applied (store false, stream true, instructions, list input, refused parameters dropped), the folded answer with its output rebuilt", async () => {
    const response = await sdk.responses.create({
      model: 'gpt-5.5',
      input: 'Say hi',
      max_output_tokens: 100,
      temperature: 0.2,
      metadata: {a: 'b'},
    })
    assertSchema('Response', response)
    assert.equal(response.output_text, 'Codex answer to: Say hi')
    assert.ok(response.output.length > 0, 'the empty final output was rebuilt')
    const body = lastBody()
    assert.equal(body.store, false)
    assert.equal(body.stream, true)
    assert.ok(typeof body.instructions === 'string' && body.instructions.length > 0)
    assert.ok(Array.isArray(body.input))
    for (const dropped of ['max_output_tokens', 'temperature', 'metadata'])
      assert.equal(body[dropped], undefined, dropped)
    const headers = lastHeaders()
    assert.equal(
      headers['chatgpt-account-id'],
      [ada, bob].find((t) => headers.authorization === `Bearer ${t.access_token}`)?.account_id,
    )
    assert.equal(headers.originator, 'codex_cli_rs')
    assert.ok(headers.session_id)
    assert.ok(
      gw.logs.some((l) => l.includes('max_output_tokens dropped')),
      'a debug line says what was dropped',
    )
  })

  it("Responses, streamed: the backend's own frames never reach the client; every event validates; a stored response can be continued", async () => {
    const res = await gw.api('/v1/responses', {
      method: 'POST',
      json: {model: 'gpt-5.5', input: 'Stream it', stream: true},
    })
    const text = await res.text()
    assert.doesNotMatch(text, /codex\./)
    const events = text
      .split('\n\n')
      .filter(Boolean)
      .map(
        (e) =>
          JSON.parse(
            e
              .split('\n')
              .find((l) => l.startsWith('data: '))!
              .slice(6),
          ) as {type: string; response?: {id: string; output: unknown[]}},
      )
    for (const event of events) assertSchema('ResponseStreamEvent', event)
    const completed = events.at(-1)!
    assert.equal(completed.type, 'response.completed')
    assert.ok(completed.response!.output.length > 0)
    const next = await sdk.responses.create({
      model: 'gpt-5.5',
      input: 'And again',
      previous_response_id: completed.response!.id,
    })
    assert.equal(next.status, 'completed')
    const input = lastBody().input as Array<{role?: string; id?: unknown}>
    assert.ok(input.length >= 3, 'the stored turn went along, whole')
    assert.ok(
      input.every((item) => item.id === undefined),
      'without ids the backend would look up',
    )
  })

  it('chat, streamed and not, with tool calls, each call its own index', async () => {
    const whole = await sdk.chat.completions.create({
      model: 'gpt-5.5',
      messages: [
        {role: 'system', content: 'Be brief'},
        {role: 'user', content: 'Hello'},
      ],
    })
    assertSchema('CreateChatCompletionResponse', whole)
    assert.equal(whole.choices[0].message.content, 'Codex answer to: Hello')
    assert.equal(lastBody().instructions, 'Be brief')
    assert.ok(whole.usage && whole.usage.prompt_tokens > 0)
    const tools = [{type: 'function' as const, function: {name: 'get_weather', parameters: WEATHER.parameters}}]
    const stream = await sdk.chat.completions.create({
      model: 'gpt-5.5',
      stream: true,
      tools,
      messages: [
        {role: 'user', content: 'call get_weather with {"city":"Paris"}\ncall get_weather with {"city":"Rome"}'},
      ],
    })
    const calls = new Map<number, string>()
    let finish: string | null = null
    for await (const chunk of stream) {
      assertSchema('CreateChatCompletionStreamResponse', chunk)
      for (const call of chunk.choices[0]?.delta.tool_calls ?? [])
        calls.set(call.index, (calls.get(call.index) ?? '') + (call.function?.arguments ?? ''))
      finish = chunk.choices[0]?.finish_reason ?? finish
    }

    assert.deepEqual(
      [...calls.entries()].map(([i, args]) => [i, JSON.parse(args)]),
      [
        [0, {city: 'Paris'}],
        [1, {city: 'Rome'}],
      ],
    )
    assert.equal(finish, 'tool_calls')
  })

  it('legacy completions and Anthropic Messages are served from the plan too', async () => {
    const legacy = await sdk.completions.create({model: 'gpt-5.5', prompt: 'Say something', max_tokens: 3})
    assertSchema('CreateCompletionResponse', legacy)
    assert.ok(
      'Codex answer to: Say something'.startsWith(legacy.choices[0].text) && legacy.choices[0].text.length < 20,
      legacy.choices[0].text,
    )
    assert.equal(legacy.choices[0].finish_reason, 'length', 'max_tokens applied by the daemon: the backend refuses it')
    const anthropic = new Anthropic({baseURL: gw.origin, apiKey: gw.clientKey, maxRetries: 0})
    const message = await anthropic.messages
      .stream({model: 'gpt-5.5', max_tokens: 1000, messages: [{role: 'user', content: 'Hi Claude'}]})
      .finalMessage()
    assert.deepEqual(message.content, [{type: 'text', text: 'Codex answer to: Hi Claude'}])
  })

  it("records the plan's limits per token, and lists the plan's models", async () => {
    codex.backend.rateLimits.primary = {
      usedPercent: 42,
      windowMinutes: 300,
      resetAt: Math.floor(Date.now() / 1000) + 3600,
    }
    await sdk.responses.create({model: 'gpt-5.5', input: 'count me'})
    const served = (await admin()).tokens.find((t) => t.limits)
    assert.ok(served?.limits)
    assert.deepEqual(served.limits.windows[0], {...served.limits.windows[0], window: '5h', usedPercent: 42})
    const models = await sdk.models.list()
    assert.ok(models.data.some((m) => m.id === 'gpt-5.6-sol'))
    const records = await readLedger(gw.ctx.paths.ledger)
    assert.ok(records.some((r) => r.upstream === 'plan' && r.prompt_tokens > 0 && r.estimated === false))
  })

  it("a usage limit rests the account until its reset and moves the request; when every account is capped, a 429 with Retry-After and the plan's words", async () => {
    const resetsAt = Math.floor(Date.now() / 1000) + 7200
    codex.backend.rateLimits.primary = {usedPercent: 100, windowMinutes: 300, resetAt: resetsAt}
    codex.backend.fault({type: 'usage-limit'}, 1)
    const moved = await sdk.responses.create({model: 'gpt-5.5', input: 'first'})
    assert.equal(moved.status, 'completed')
    const capped = (await admin()).tokens.filter((t) => t.state === 'cooling-down')
    assert.equal(capped.length, 1)
    assert.ok(
      Math.abs(Date.parse(capped[0].coolingUntil!) - resetsAt * 1000) < 5000,
      'rests until the reset the plan named',
    )
    assert.match(capped[0].coolingReason ?? '', /usage limit/)
    codex.backend.fault({type: 'usage-limit'}, 1)
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-5.5', messages: [{role: 'user', content: 'again'}]},
    })
    assert.equal(res.status, 429)
    assert.ok(Number(res.headers.get('retry-after')) > 7000)
    assert.match(((await res.json()) as {error: {message: string}}).error.message, /usage limit has been reached/)
  })

  it('a request the backend refuses (an unsupported model) is a 400 with its words, not retried', async () => {
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-3.5-turbo', messages: [{role: 'user', content: 'x'}]},
    })
    assert.equal(res.status, 400)
    assert.match(
      ((await res.json()) as {error: {message: string}}).error.message,
      /not supported when using Codex with a ChatGPT account/,
    )
  })

  it('the backend dies mid-answer: a Responses stream ends with response.failed, a chat stream with its error event', async () => {
    codex.backend.fault({type: 'cut', afterEvents: 6})
    const responses = await gw.api('/v1/responses', {
      method: 'POST',
      json: {model: 'gpt-5.5', input: 'Break', stream: true},
    })
    const text = await responses.text()
    assert.match(text.trim().split('\n\n').at(-1)!, /response\.failed/)
    codex.backend.fault({type: 'cut', afterEvents: 10}, 3)
    const chat = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-5.5', stream: true, messages: [{role: 'user', content: 'Break'}]},
    })
    const body = parseSseBody(await chat.text())
    assert.ok((body.events.at(-1) as {error?: unknown}).error)
  })
})

describe('the ChatGPT plan: imported login, renewal under load', () => {
  it('an auth.json import serves requests; a revoked access token is renewed once for five concurrent requests, and the rotated refresh token is stored', async () => {
    const codex = await FakeCodex.start()
    const home = mkdtempSync(join(tmpdir(), 'gptconv-codex-'))
    try {
      const ctx = createContext({
        env: {GPTCONV_HOME: home, GPTCONV_SECRET_STORE: 'file', GPTCONV_KEYCHAIN_SERVICE: 'gptconv-test-unused'},
      })
      await ctx.config.update((s) => {
        s.upstreams.plan = {protocol: 'codex', baseUrl: codex.baseUrl, authUrl: codex.authUrl}
      })
      const {path, tokens} = await codex.writeAuthJson(join(home, 'codex'), {email: 'ada@example.com'})
      await importCodexAuth(ctx, {file: path, label: 'ada', upstream: 'plan'})
      const gw = await startTestDaemon({home})
      try {
        const sdk = new OpenAI({baseURL: gw.url, apiKey: gw.clientKey, maxRetries: 0})
        assert.equal((await sdk.responses.create({model: 'gpt-5.5', input: 'first'})).status, 'completed')
        const before = codex.auth.exchangeCount('refresh_token')
        const access = (codex.backend.requests.at(-1)!.headers as Record<string, string>).authorization.slice(
          'Bearer '.length,
        )
        codex.auth.tokens.revokeAccess(access)
        const answers = await Promise.all(
          Array.from({length: 5}, (_, i) =>
            sdk.chat.completions.create({model: 'gpt-5.5', messages: [{role: 'user', content: `n${i}`}]}),
          ),
        )
        assert.deepEqual(
          answers.map((a) => a.choices[0].message.content),
          [0, 1, 2, 3, 4].map((i) => `Codex answer to: n${i}`),
        )
        assert.equal(codex.auth.exchangeCount('refresh_token') - before, 1, 'one exchange for all of them')
        const stored = await storeOfKind('file', {env: ctx.env}).get('ada')
        assert.notEqual(stored, tokens.refresh_token, 'the rotated refresh token replaced the imported one')
      } finally {
        await gw.stop({keepHome: true})
      }
    } finally {
      await codex.close()
      rmSync(home, {recursive: true, force: true})
    }
  })
})
