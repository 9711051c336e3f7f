import assert from 'node:assert/strict'
import {chmod, mkdtemp, readFile, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {asObj, call, type Frame, json, type Obj, parseFrames, streamOk} from './fake-codex-client.js'
import {
  CODEX_MODELS,
  codexAccount,
  type CodexTokens,
  FakeCodex,
  type FakeCodexOptions,
  notPersisted,
  REJECTED_PARAMETERS,
  unsupportedModel,
} from './fake-codex.js'
import {assertSchema, matchesSchema} from './openapi.js'

const SESSION = '0199a213-81c0-7800-8aa1-bbab2a035a53'

async function withFake(
  options: FakeCodexOptions,
  fn: (fake: FakeCodex, tokens: CodexTokens) => Promise<void>,
): Promise<void> {
  const fake = await FakeCodex.start(options)
  try {
    await fn(fake, fake.issueTokens())
  } finally {
    await fake.close()
  }
}

/** A request body as Codex CLI sends it. */
function codexBody(text = 'hi', extra: Obj = {}): Obj {
  return {
    model: 'gpt-5.6-sol',
    instructions: 'You are Codex, a coding agent.',
    input: [{type: 'message', role: 'user', content: [{type: 'input_text', text}]}],
    tools: [],
    tool_choice: 'auto',
    parallel_tool_calls: true,
    store: false,
    stream: true,
    include: [],
    prompt_cache_key: SESSION,
    text: {verbosity: 'low'},
    ...extra,
  }
}

function codexHeaders(fake: FakeCodex, tokens: CodexTokens): Record<string, string> {
  return {
    ...fake.authHeaders(tokens),
    originator: 'codex_cli_rs',
    'user-agent': 'codex_cli_rs/0.160.0 (Linux 6.8; x86_64) xterm',
    version: '0.160.0',
    session_id: SESSION,
    accept: 'text/event-stream',
  }
}

const respond = (fake: FakeCodex, tokens: CodexTokens, body: unknown, headers?: Record<string, string>) =>
  call(`${fake.baseUrl}/responses`, {json: body, headers: headers ?? codexHeaders(fake, tokens)})

/**
 * Validate a Responses event against the official `ResponseStreamEvent`, after undoing two backend
 * quirks the official schema rejects: the usage has no `input_tokens_details.cache_write_tokens`
 * (filled with 0 here), and the response object carries `usage: null` before it ends (dropped).
 */
function official(data: Obj): Obj {
  const copy = structuredClone(data)
  const response = copy.response === undefined ? undefined : asObj(copy.response)
  if (response?.usage === null) delete response.usage
  const details = response?.usage === undefined ? undefined : asObj(asObj(response.usage).input_tokens_details)
  if (details) details.cache_write_tokens = 0
  return copy
}

const assertOfficial = (data: Obj) => assertSchema('ResponseStreamEvent', official(data))

function responsesEvents(frames: Frame[]): Obj[] {
  const events = frames.filter((f) => !String(f.data.type).startsWith('codex.')).map((f) => f.data)
  events.forEach((e, i) => assert.equal(e.sequence_number, i))
  return events
}

const completed = (frames: Frame[]) => asObj(frames.at(-1)?.data.response)

describe('fake Codex backend: streams', {timeout: 30_000}, () => {
  it('a text answer: Responses events plus codex.* events, completed output [] and usage without cache_write_tokens', async () => {
    await withFake({}, async (fake, tokens) => {
      const reply = await respond(fake, tokens, codexBody('Hello there'))
      const frames = streamOk(reply)
      assert.deepEqual(
        frames.map((f) => f.event),
        [
          'response.created',
          'codex.response.metadata',
          'response.in_progress',
          'codex.rate_limits',
          'response.output_item.added',
          'response.content_part.added',
          'response.output_text.delta',
          'response.output_text.delta',
          'response.output_text.delta',
          'response.output_text.delta',
          'response.output_text.delta',
          'response.output_text.done',
          'response.content_part.done',
          'response.output_item.done',
          'response.completed',
        ],
      )
      const events = responsesEvents(frames)
      for (const event of events) assertOfficial(event)
      const text = events
        .filter((e) => e.type === 'response.output_text.delta')
        .map((e) => e.delta)
        .join('')
      assert.equal(text, 'Codex answer to: Hello there')
      const item = asObj(events.find((e) => e.type === 'response.output_item.done')?.item)
      assert.equal(item.phase, 'final_answer')
      assert.deepEqual(item.content, [
        {type: 'output_text', annotations: [], logprobs: [], text: 'Codex answer to: Hello there'},
      ])

      const done = completed(frames)
      assert.deepEqual(done.output, [])
      assert.equal(done.status, 'completed')
      const usage = asObj(done.usage)
      assert.deepEqual(Object.keys(asObj(usage.input_tokens_details)), ['cached_tokens'])
      assert.equal(usage.total_tokens, (usage.input_tokens as number) + (usage.output_tokens as number))
      assert.deepEqual(usage.output_tokens_details, {reasoning_tokens: 0})
      // As sent, the final event does not match the official schema (the missing cache_write_tokens).
      assert.equal(matchesSchema('ResponseStreamEvent', frames.at(-1)?.data), false)

      const metadata = frames[1].data
      assert.deepEqual(metadata, {
        type: 'codex.response.metadata',
        response_id: done.id,
        headers: {'x-codex-turn-state': reply.headers['x-codex-turn-state']},
      })
      const limits = asObj(frames[3].data)
      assert.deepEqual(Object.keys(limits), ['type', 'plan_type', 'rate_limits', 'credits'])
      assert.equal(limits.plan_type, 'plus')
      assert.deepEqual(Object.keys(asObj(limits.rate_limits)), ['allowed', 'limit_reached', 'primary', 'secondary'])

      const [recorded] = fake.backend.requests
      assert.equal(recorded.status, 200)
      assert.equal(recorded.headers.originator, 'codex_cli_rs')
      assert.equal(recorded.headers.session_id, SESSION)
      assert.equal(recorded.headers['user-agent'], 'codex_cli_rs/0.160.0 (Linux 6.8; x86_64) xterm')
      assert.deepEqual(recorded.body, codexBody('Hello there'))
      assert.equal(recorded.account?.accountId, tokens.account_id)
    })
  })

  it('reasoning asked: a reasoning item with summary deltas and encrypted_content comes first', async () => {
    await withFake({}, async (fake, tokens) => {
      const body = codexBody('why?', {
        reasoning: {effort: 'medium', summary: 'auto'},
        include: ['reasoning.encrypted_content'],
      })
      const frames = streamOk(await respond(fake, tokens, body))
      const events = responsesEvents(frames)
      for (const event of events) assertOfficial(event)
      assert.deepEqual(
        events.slice(2, 8).map((e) => e.type),
        [
          'response.output_item.added',
          'response.reasoning_summary_part.added',
          'response.reasoning_summary_text.delta',
          'response.reasoning_summary_text.delta',
          'response.reasoning_summary_text.delta',
          'response.reasoning_summary_text.done',
        ],
      )
      const summary = events
        .filter((e) => e.type === 'response.reasoning_summary_text.delta')
        .map((e) => e.delta)
        .join('')
      assert.equal(summary, 'Thinking about: why?')
      const reasoning = asObj(events.find((e) => e.type === 'response.output_item.done')?.item)
      assert.equal(reasoning.type, 'reasoning')
      assert.deepEqual(reasoning.summary, [{type: 'summary_text', text: 'Thinking about: why?'}])
      assert.match(reasoning.encrypted_content as string, /^gAAAAAB/)
      const message = events.filter((e) => e.type === 'response.output_item.done')[1]
      assert.equal(message.output_index, 1)
      assert.deepEqual(asObj(completed(frames).usage).output_tokens_details, {
        reasoning_tokens: 16 + Math.ceil('Thinking about: why?'.length / 4),
      })
      assert.deepEqual(asObj(completed(frames).reasoning), {effort: 'medium', summary: 'auto'})
    })
  })

  it('tool calls: "call NAME" in the last user text gives function_call items with argument fragments', async () => {
    await withFake({}, async (fake, tokens) => {
      const tools = [
        {
          type: 'function',
          name: 'get_weather',
          description: 'Weather',
          parameters: {type: 'object', properties: {city: {type: 'string'}}},
          strict: false,
        },
        {type: 'function', name: 'get_time', parameters: {type: 'object', properties: {}}},
      ]
      const body = codexBody('Please call get_weather with {"city":"Paris"}\nthen call get_time', {tools})
      const frames = streamOk(await respond(fake, tokens, body))
      const events = responsesEvents(frames)
      for (const event of events) assertOfficial(event)
      assert.equal(
        events.some((e) => e.type === 'response.output_text.delta'),
        false,
      )
      const calls = events.filter((e) => e.type === 'response.output_item.done').map((e) => asObj(e.item))
      assert.deepEqual(
        calls.map((c) => [c.type, c.name, c.arguments, c.status]),
        [
          ['function_call', 'get_weather', '{"city":"Paris"}', 'completed'],
          ['function_call', 'get_time', '{}', 'completed'],
        ],
      )
      assert.match(calls[0].call_id as string, /^call_/)
      const deltas = events
        .filter((e) => e.type === 'response.function_call_arguments.delta' && e.output_index === 0)
        .map((e) => e.delta)
      assert.deepEqual(deltas, ['{"city":', '"Paris"}'])
      const argsDone = events.find((e) => e.type === 'response.function_call_arguments.done')
      assert.deepEqual(
        [argsDone?.name, argsDone?.arguments, argsDone?.item_id],
        ['get_weather', '{"city":"Paris"}', calls[0].id],
      )
      // The response object echoes the tools with strict / description filled in.
      assert.deepEqual(completed(frames).tools, [tools[0], {...tools[1], description: null, strict: true}])
      // A name that is not a tool is no call.
      const plain = responsesEvents(streamOk(await respond(fake, tokens, codexBody('call nobody', {tools}))))
      assert.equal(
        plain.some((e) => e.type === 'response.function_call_arguments.delta'),
        false,
      )
    })
  })

  it('scripts: output items with phases and exact usage; full output on demand; raw events verbatim', async () => {
    await withFake({backend: {fullOutput: true}}, async (fake, tokens) => {
      fake.backend.script({
        output: [
          {type: 'message', text: 'Let me look.', phase: 'commentary', chunks: ['Let me', ' look.']},
          {
            type: 'function_call',
            name: 'shell',
            arguments: '{"cmd":["ls"]}',
            callId: 'call_fixed',
            chunks: ['{"cmd":', '["ls"]}'],
          },
        ],
        usage: {input: 1200, cached: 1024, output: 30, reasoning: 0},
      })
      const frames = streamOk(await respond(fake, tokens, codexBody()))
      const events = responsesEvents(frames)
      for (const event of events) assertOfficial(event)
      assert.deepEqual(
        events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta),
        ['Let me', ' look.'],
      )
      const done = completed(frames)
      assert.deepEqual(done.usage, {
        input_tokens: 1200,
        input_tokens_details: {cached_tokens: 1024},
        output_tokens: 30,
        output_tokens_details: {reasoning_tokens: 0},
        total_tokens: 1230,
      })
      const items = events.filter((e) => e.type === 'response.output_item.done').map((e) => e.item)
      assert.deepEqual(done.output, items)
      assert.equal(asObj(items[0]).phase, 'commentary')
      assert.equal(asObj(items[1]).call_id, 'call_fixed')

      fake.backend.script({raw: [{event: 'response.created', data: {type: 'response.created'}}, {data: 'not json'}]})
      const raw = await respond(fake, tokens, codexBody())
      assert.equal(raw.text, 'event: response.created\ndata: {"type":"response.created"}\n\ndata: not json\n\n')
      // Scripts are used up: the next answer is the default one.
      assert.equal(completed(streamOk(await respond(fake, tokens, codexBody()))).status, 'completed')
    })
  })
})

describe('fake Codex backend: rules, auth and faults', {timeout: 30_000}, () => {
  it('each backend rule answers {"detail"} with the documented message', async () => {
    await withFake({}, async (fake, tokens) => {
      const without = (name: string) => {
        const body = codexBody()
        delete body[name]
        return body
      }
      const cases: Array<[Obj, number, string]> = [
        [{...codexBody(), messages: [{role: 'user', content: 'hi'}]}, 400, 'Unsupported parameter: messages'],
        [codexBody('hi', {input: 'hi'}), 400, 'Input must be a list'],
        [without('instructions'), 400, 'Instructions are required'],
        [codexBody('hi', {instructions: ''}), 400, 'Instructions are required'],
        [codexBody('hi', {store: true}), 400, 'Store must be set to false'],
        [without('store'), 400, 'Store must be set to false'],
        [codexBody('hi', {stream: false}), 400, 'Stream must be set to true'],
        ...REJECTED_PARAMETERS.map((name): [Obj, number, string] => [
          codexBody('hi', {[name]: name === 'metadata' ? {} : 1}),
          400,
          `Unsupported parameter: ${name}`,
        ]),
        [
          codexBody('hi', {
            input: [{type: 'message', id: 'msg_1', role: 'user', content: [{type: 'input_text', text: 'hi'}]}],
          }),
          404,
          notPersisted('msg_1'),
        ],
        [codexBody('hi', {input: [{type: 'item_reference', id: 'rs_2'}]}), 404, notPersisted('rs_2')],
        [codexBody('hi', {model: 'gpt-4o'}), 400, unsupportedModel('gpt-4o')],
      ]
      assert.equal(cases.length, 17)
      for (const [body, status, message] of cases) {
        const reply = await respond(fake, tokens, body)
        assert.equal(reply.status, status, message)
        assert.deepEqual(json(reply), {detail: message})
      }
      assert.equal(
        notPersisted('rs_2'),
        "Item with id 'rs_2' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input.",
      )
      assert.equal(
        unsupportedModel('gpt-4o'),
        "The 'gpt-4o' model is not supported when using Codex with a ChatGPT account.",
      )
      assert.deepEqual(
        fake.backend.requests.map((r) => r.status),
        cases.map((c) => c[1]),
      )
    })
  })

  it('401 without a live access token, 403 when ChatGPT-Account-ID does not match it', async () => {
    await withFake({}, async (fake, tokens) => {
      const expired = fake.auth.issueAccessToken({}, -5)
      const other = fake.issueTokens({email: 'carol@example.com'})
      const cases: Array<[Record<string, string>, number, string]> = [
        [{'chatgpt-account-id': tokens.account_id}, 401, 'Authentication credentials were not provided.'],
        [
          {authorization: 'Bearer not-a-token', 'chatgpt-account-id': tokens.account_id},
          401,
          'Could not parse your authentication token. Please try signing in again.',
        ],
        [
          {authorization: `Bearer ${expired}`, 'chatgpt-account-id': tokens.account_id},
          401,
          'Your authentication token has expired. Please try signing in again.',
        ],
        [
          {authorization: `Bearer ${tokens.access_token}`},
          403,
          'ChatGPT-Account-ID null does not match the account of this token.',
        ],
        [
          fake.authHeaders({access_token: tokens.access_token, account_id: other.account_id}),
          403,
          `ChatGPT-Account-ID "${other.account_id}" does not match the account of this token.`,
        ],
      ]
      for (const [headers, status, message] of cases) {
        const reply = await respond(fake, tokens, codexBody(), headers)
        assert.equal(reply.status, status, message)
        assert.deepEqual(json(reply), {detail: message})
      }
      fake.auth.tokens.revokeAccess(tokens.access_token)
      assert.deepEqual(json(await respond(fake, tokens, codexBody())), {
        detail: 'Your authentication token has been invalidated. Please try signing in again.',
      })
      assert.equal(codexAccount({email: 'carol@example.com'}).accountId, other.account_id)
    })
  })

  it('faults: 500, a cut stream, response.failed with a code, 429 usage limit with rate-limit headers', async () => {
    await withFake({auth: {account: {planType: 'plus'}}}, async (fake, tokens) => {
      const now = Math.floor(Date.now() / 1000)
      fake.backend.rateLimits = {
        primary: {usedPercent: 100, windowMinutes: 300, resetAt: now + 3000},
        secondary: {usedPercent: 64, windowMinutes: 10080, resetAt: now + 90_000},
        credits: null,
      }
      fake.backend.fault({type: 'status', status: 500})
      fake.backend.fault({type: 'cut', afterEvents: 6})
      fake.backend.fault({type: 'failed', code: 'context_length_exceeded'})
      fake.backend.fault({type: 'failed', code: 'usage_not_included'})
      fake.backend.fault({type: 'usage-limit'})

      const failed = await respond(fake, tokens, codexBody())
      assert.equal(failed.status, 500)
      assert.deepEqual(json(failed), {detail: 'Upstream error 500 (fault injected by the fake Codex backend).'})

      const cutReply = await respond(fake, tokens, codexBody())
      assert.equal(cutReply.status, 200)
      // The connection closes before the chunked body ends: the client sees an error, not a clean end.
      assert.notEqual(cutReply.error, undefined)
      const {frames} = parseFrames(cutReply.text)
      assert.equal(frames.length, 6)
      assert.equal(
        frames.some((f) => f.event === 'response.completed'),
        false,
      )

      for (const [code, message] of [
        [
          'context_length_exceeded',
          'Your input exceeds the context window of this model. Please adjust your input and try again.',
        ],
        ['usage_not_included', 'Codex is not included in your ChatGPT plan.'],
      ]) {
        const end = streamOk(await respond(fake, tokens, codexBody()))
        assert.deepEqual(
          end.map((f) => f.event),
          [
            'response.created',
            'codex.response.metadata',
            'response.in_progress',
            'codex.rate_limits',
            'response.failed',
          ],
        )
        const response = asObj(end[4].data.response)
        assert.equal(response.status, 'failed')
        assert.deepEqual(response.error, {code, message})
        // The official ResponseErrorCode enum has neither of these backend codes.
        assert.equal(matchesSchema('ResponseStreamEvent', official(end[4].data)), false)
        assertOfficial({...end[4].data, response: {...response, error: {code: 'server_error', message}}})
      }

      const limited = await respond(fake, tokens, codexBody())
      assert.equal(limited.status, 429)
      const body = json(limited)
      const resetsIn = asObj(body.error).resets_in_seconds as number
      assert.ok(resetsIn >= 2998 && resetsIn <= 3000, String(resetsIn))
      assert.deepEqual(body, {
        error: {
          type: 'usage_limit_reached',
          message: 'The usage limit has been reached',
          plan_type: 'plus',
          resets_at: now + 3000,
          resets_in_seconds: resetsIn,
        },
      })
      assert.equal(limited.headers['x-codex-primary-used-percent'], '100')
      assert.equal(limited.headers['x-codex-primary-reset-at'], String(now + 3000))
      assert.equal(streamOk(await respond(fake, tokens, codexBody())).at(-1)?.event, 'response.completed')
    })
  })

  it('rate-limit headers and the codex.rate_limits event follow the configured state', async () => {
    await withFake({}, async (fake, tokens) => {
      const now = Math.floor(Date.now() / 1000)
      fake.backend.rateLimits = {
        primary: {usedPercent: 42.5, windowMinutes: 300, resetAt: now + 600},
        secondary: {usedPercent: 84, windowMinutes: 10080, resetAt: now + 86_400},
        credits: {hasCredits: true, unlimited: false, balance: '9.99'},
      }
      const reply = await respond(fake, tokens, codexBody())
      const h = reply.headers
      assert.deepEqual(
        [
          h['x-codex-primary-used-percent'],
          h['x-codex-primary-window-minutes'],
          h['x-codex-primary-reset-at'],
          h['x-codex-secondary-used-percent'],
          h['x-codex-secondary-window-minutes'],
          h['x-codex-secondary-reset-at'],
        ],
        ['42.5', '300', String(now + 600), '84', '10080', String(now + 86_400)],
      )
      assert.deepEqual(
        [h['x-codex-credits-has-credits'], h['x-codex-credits-unlimited'], h['x-codex-credits-balance']],
        ['true', 'false', '9.99'],
      )
      const event = streamOk(reply).find((f) => f.event === 'codex.rate_limits')?.data
      const primary = asObj(asObj(event?.rate_limits).primary)
      assert.deepEqual(
        {...primary, reset_after_seconds: 0},
        {used_percent: 42.5, window_minutes: 300, reset_after_seconds: 0, reset_at: now + 600},
      )
      assert.deepEqual(event?.credits, {has_credits: true, unlimited: false, balance: '9.99'})
    })
  })
})

describe('fake Codex backend: models, usage, auth.json', {timeout: 30_000}, () => {
  it('GET /models?client_version=… lists the catalog; custom catalogs; faults', async () => {
    await withFake({}, async (fake, tokens) => {
      const headers = fake.authHeaders(tokens)
      const missing = await call(`${fake.baseUrl}/models`, {headers})
      assert.deepEqual(
        [missing.status, json(missing)],
        [400, {detail: 'Missing required query parameter: client_version'}],
      )
      const list = json(await call(`${fake.baseUrl}/models?client_version=0.159.3`, {headers}))
      const models = list.models as Obj[]
      assert.deepEqual(
        models.map((m) => [m.slug, m.context_window, m.default_reasoning_level, m.visibility, m.supported_in_api]),
        [
          ['gpt-5.6-sol', 372_000, 'low', 'list', true],
          ['gpt-5.5', 272_000, 'medium', 'list', true],
          ['gpt-5.4-mini', 272_000, 'medium', 'list', true],
          ['gpt-5.3-codex', 272_000, 'medium', 'hide', true],
        ],
      )
      assert.deepEqual(
        (models[0].supported_reasoning_levels as Obj[]).map((l) => l.effort),
        ['low', 'medium', 'high', 'xhigh', 'max', 'ultra'],
      )
      assert.equal(fake.backend.requests[1].query.client_version, '0.159.3')

      fake.backend.fault({type: 'status', status: 503}, 1, 'models')
      assert.equal((await call(`${fake.baseUrl}/models?client_version=1`, {headers})).status, 503)
      // A models fault does not touch /responses.
      assert.equal(streamOk(await respond(fake, tokens, codexBody())).at(-1)?.event, 'response.completed')

      fake.backend.set({models: CODEX_MODELS.slice(2)})
      assert.deepEqual(
        (json(await call(`${fake.baseUrl}/models?client_version=1`, {headers})).models as Obj[]).map((m) => m.slug),
        ['gpt-5.4-mini', 'gpt-5.3-codex'],
      )
      assert.deepEqual(json(await respond(fake, tokens, codexBody())), {detail: unsupportedModel('gpt-5.6-sol')})
    })
  })

  it('GET /backend-api/wham/usage returns the usage document of the rate-limit state', async () => {
    await withFake({auth: {account: {planType: 'team'}}}, async (fake, tokens) => {
      const now = Math.floor(Date.now() / 1000)
      fake.backend.rateLimits = {
        primary: {usedPercent: 42, windowMinutes: 300, resetAt: now + 3600},
        secondary: {usedPercent: 84, windowMinutes: 10080, resetAt: now + 86_400},
        credits: {hasCredits: true, unlimited: false, balance: '9.99'},
      }
      assert.equal((await call(fake.usageUrl)).status, 401)
      const doc = json(await call(fake.usageUrl, {headers: fake.authHeaders(tokens)}))
      const rate = asObj(doc.rate_limit)
      const after = (w: unknown) => asObj(w).reset_after_seconds as number
      assert.ok(after(rate.primary_window) >= 3598 && after(rate.primary_window) <= 3600)
      assert.deepEqual(doc, {
        plan_type: 'team',
        rate_limit: {
          allowed: true,
          limit_reached: false,
          primary_window: {
            used_percent: 42,
            limit_window_seconds: 18_000,
            reset_after_seconds: after(rate.primary_window),
            reset_at: now + 3600,
          },
          secondary_window: {
            used_percent: 84,
            limit_window_seconds: 604_800,
            reset_after_seconds: after(rate.secondary_window),
            reset_at: now + 86_400,
          },
        },
        credits: {has_credits: true, unlimited: false, balance: '9.99'},
        additional_rate_limits: [],
      })
      fake.backend.fault({type: 'status', status: 502}, 1, 'usage')
      assert.equal((await call(fake.usageUrl, {headers: fake.authHeaders(tokens)})).status, 502)
    })
  })

  it('writes $CODEX_HOME/auth.json (mode 0600) with tokens the backend accepts', async () => {
    const home = await mkdtemp(join(tmpdir(), 'codex-home-'))
    try {
      await withFake({}, async (fake) => {
        const codexHome = join(home, '.codex')
        const {path, tokens} = await fake.writeAuthJson(
          codexHome,
          {email: 'dave@example.com'},
          {lastRefresh: new Date('2026-10-01T12:00:00.123Z')},
        )
        assert.equal(path, join(codexHome, 'auth.json'))
        assert.equal((await stat(path)).mode & 0o777, 0o600)
        assert.equal((await stat(codexHome)).mode & 0o777, 0o700)
        const file = JSON.parse(await readFile(path, 'utf8')) as Obj
        assert.deepEqual(file, {
          auth_mode: 'chatgpt',
          OPENAI_API_KEY: null,
          tokens: {
            id_token: tokens.id_token,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            account_id: codexAccount({email: 'dave@example.com'}).accountId,
          },
          last_refresh: '2026-10-01T12:00:00.123000Z',
        })
        const fileTokens = asObj(file.tokens) as unknown as CodexTokens
        assert.equal(streamOk(await respond(fake, fileTokens, codexBody())).at(-1)?.event, 'response.completed')

        // Rewriting an existing, too-open file makes it 0600 again.
        await chmod(path, 0o644)
        await fake.writeAuthJson(codexHome)
        assert.equal((await stat(path)).mode & 0o777, 0o600)
      })
    } finally {
      await rm(home, {recursive: true, force: true})
    }
  })
})
