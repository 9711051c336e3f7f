import assert from 'node:assert/strict'
import {randomUUID} from 'node:crypto'
import {describe, it} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {request} from 'undici'

import {
  AUTH_CLAIM,
  DONE,
  FakeChatGPTWeb,
  PROFILE_CLAIM,
  WEB_MODEL_SLUGS,
  citationsOf,
  splitWords,
  webAccountId,
  type FakeWebOptions,
} from './fake-chatgpt-web.js'
import {fakeJwt} from './jwt.js'

type Obj = Record<string, unknown>
type Reply = {status: number; headers: Record<string, string>; text: string; error?: Error}
type Block = {event?: string; data?: string}

const ALICE = 'alice@example.com'
const BOB = 'bob@example.com'

async function call(
  fake: FakeChatGPTWeb,
  method: 'GET' | 'POST',
  path: string,
  options: {token?: string; body?: unknown; raw?: string; contentType?: string; signal?: AbortSignal} = {},
): Promise<Reply> {
  const headers: Record<string, string> = {}
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  let payload = options.raw
  if (options.body !== undefined) payload = JSON.stringify(options.body)
  if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/json'
  const res = await request(`${fake.origin}${path}`, {
    method,
    headers,
    body: payload,
    signal: options.signal ?? AbortSignal.timeout(5_000),
  })
  const flat: Record<string, string> = {}
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v
  const parts: Buffer[] = []
  let error: Error | undefined
  try {
    for await (const chunk of res.body) parts.push(chunk as Buffer)
  } catch (e) {
    error = e instanceof Error ? e : new Error(String(e))
  }
  return {status: res.statusCode, headers: flat, text: Buffer.concat(parts).toString('utf8'), error}
}

/** A conversation request body with `history` as alternating user/assistant texts (last one user). */
function conversationBody(texts: string[] = ['Hello there'], extra: Obj = {}): Obj {
  return {
    action: 'next',
    messages: texts.map((t, i) => ({
      id: randomUUID(),
      author: {role: (texts.length - 1 - i) % 2 === 0 ? 'user' : 'assistant'},
      content: {content_type: 'text', parts: [t]},
      metadata: {},
    })),
    parent_message_id: randomUUID(),
    model: 'gpt-4o',
    timezone_offset_min: 0,
    history_and_training_disabled: true,
    conversation_mode: {kind: 'primary_assistant'},
    force_use_sse: true,
    ...extra,
  }
}

const converse = (fake: FakeChatGPTWeb, token: string, body: unknown = conversationBody(), signal?: AbortSignal) =>
  call(fake, 'POST', '/backend-api/conversation', {token, body, signal})

/** SSE blocks (`event:`/`data:` lines), plus what follows the last blank line. */
function parseSse(text: string): {blocks: Block[]; trailing: string} {
  const pieces = text.split('\n\n')
  const trailing = pieces.pop() ?? ''
  const blocks = pieces.map((piece) => {
    const block: Block = {}
    for (const line of piece.split('\n')) {
      if (line.startsWith('event: ')) block.event = line.slice('event: '.length)
      else if (line.startsWith('data: ')) block.data = line.slice('data: '.length)
      else assert.fail(`unexpected SSE line: ${JSON.stringify(line)}`)
    }
    return block
  })
  return {blocks, trailing}
}

/** A complete 200 stream: its data blocks before the final `[DONE]` (parsed). */
function sseOk(reply: Reply): Array<{event?: string; data: unknown}> {
  assert.equal(reply.status, 200, reply.text)
  assert.equal(reply.headers['content-type'], 'text/event-stream; charset=utf-8')
  assert.equal(reply.error, undefined)
  const {blocks, trailing} = parseSse(reply.text)
  assert.equal(trailing, '')
  assert.deepEqual(blocks.at(-1), {data: '[DONE]'})
  return blocks
    .slice(0, -1)
    .map((b) => ({...(b.event === undefined ? {} : {event: b.event}), data: JSON.parse(b.data ?? 'null') as unknown}))
}

function json(reply: Reply): Obj {
  assert.equal(reply.error, undefined)
  assert.match(reply.headers['content-type'] ?? '', /^application\/json/)
  return JSON.parse(reply.text) as Obj
}

function detailOf(reply: Reply, status: number): string {
  assert.equal(reply.status, status, reply.text)
  const body = json(reply)
  assert.equal(typeof body.detail, 'string')
  return body.detail as string
}

function jwtPayload(token: string): Obj {
  const parts = token.split('.')
  assert.equal(parts.length, 3, 'a JWT has three parts')
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Obj
}

const asObj = (v: unknown): Obj => {
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), `expected an object, got ${JSON.stringify(v)}`)
  return v as Obj
}

async function withFake(options: FakeWebOptions, fn: (fake: FakeChatGPTWeb) => Promise<void>): Promise<void> {
  const fake = await FakeChatGPTWeb.start(options)
  try {
    await fn(fake)
  } finally {
    await fake.close()
  }
}

const oauth = (fake: FakeChatGPTWeb, fields: Record<string, string>, form = false) =>
  form
    ? call(fake, 'POST', '/oauth/token', {
        raw: new URLSearchParams(fields).toString(),
        contentType: 'application/x-www-form-urlencoded',
      })
    : call(fake, 'POST', '/oauth/token', {body: fields})

const oauthFields = (refreshToken: string) => ({
  redirect_uri: 'com.openai.chat://auth0.openai.com/ios/com.openai.chat/callback',
  grant_type: 'refresh_token',
  client_id: 'pdlLIX2Y72MIl2rhLhTE9VV9bN905kBh',
  refresh_token: refreshToken,
})

const refreshEndpoint = (fake: FakeChatGPTWeb, refreshToken: string, raw?: string) =>
  call(fake, 'POST', '/auth/refresh_token', {token: refreshToken, raw: raw ?? '{}'})

describe('FakeChatGPTWeb', {timeout: 30_000}, () => {
  it('cumulative stream: user echo, growing whole-text parts, final message twice, [DONE]', async () => {
    await withFake({}, async (fake) => {
      const token = fake.issueAccessToken(ALICE)
      const body = conversationBody(['first question', 'an answer', 'Tell me about   quantum computing'])
      const events = sseOk(await converse(fake, token, body))
      const expected = 'Web answer to: Tell me about   quantum computing'
      const segments = splitWords(expected)
      assert.equal(segments.join(''), expected)
      assert.ok(segments.length > 3)
      // echo + one per segment + final + repeated final
      assert.equal(events.length, 1 + segments.length + 2)
      assert.ok(events.every((e) => e.event === undefined))

      const echo = asObj(events[0].data)
      const echoMessage = asObj(echo.message)
      assert.equal(asObj(echoMessage.author).role, 'user')
      const lastUser = asObj((body.messages as unknown[])[2])
      assert.equal(echoMessage.id, lastUser.id)
      assert.deepEqual(asObj(echoMessage.content).parts, ['Tell me about   quantum computing'])

      const conversationId = echo.conversation_id
      assert.equal(typeof conversationId, 'string')
      const assistants = events.slice(1).map((e) => asObj(e.data))
      let soFar = ''
      let messageId: unknown
      assistants.forEach((event, i) => {
        assert.deepEqual(Object.keys(event).sort(), ['conversation_id', 'error', 'message'])
        assert.equal(event.conversation_id, conversationId)
        assert.equal(event.error, null)
        const message = asObj(event.message)
        assert.deepEqual(Object.keys(message).sort(), [
          'author',
          'content',
          'create_time',
          'end_turn',
          'id',
          'metadata',
          'recipient',
          'status',
          'update_time',
          'weight',
        ])
        messageId ??= message.id
        assert.equal(message.id, messageId)
        assert.deepEqual(message.author, {role: 'assistant', name: null, metadata: {}})
        assert.equal(typeof message.create_time, 'number')
        assert.ok(!Number.isInteger(message.create_time), 'create_time is a float')
        assert.equal(message.update_time, null)
        assert.equal(message.weight, 1)
        assert.equal(message.recipient, 'all')
        const parts = asObj(message.content).parts as string[]
        assert.equal(asObj(message.content).content_type, 'text')
        if (i < segments.length) {
          soFar += segments[i]
          assert.deepEqual(parts, [soFar], 'parts[0] is the whole text so far')
          assert.equal(message.status, 'in_progress')
          assert.equal(message.end_turn, null)
          assert.deepEqual(message.metadata, {message_type: 'next', model_slug: 'gpt-4o'})
        } else {
          assert.deepEqual(parts, [expected])
          assert.equal(message.status, 'finished_successfully')
          assert.equal(message.end_turn, true)
          assert.deepEqual(message.metadata, {
            message_type: 'next',
            model_slug: 'gpt-4o',
            finish_details: {type: 'stop', stop: '<|im_end|>'},
          })
        }
      })
      assert.deepEqual(assistants.at(-1), assistants.at(-2), 'the final message is repeated once')

      assert.equal(fake.conversations.length, 1)
      const recorded = fake.conversations[0]
      assert.equal(recorded.account, ALICE)
      assert.equal(recorded.body.history_and_training_disabled, true)
      assert.equal(recorded.headers.authorization, `Bearer ${token}`)
      assert.ok(recorded.at > 0)
    })
  })

  it('cumulative stream honours answer(), split() and conversation_id; set() changes options at run time', async () => {
    await withFake({answer: (text, body) => `${String(body.model)} says ${text.toUpperCase()}`}, async (fake) => {
      const token = fake.issueAccessToken(ALICE)
      const cid = randomUUID()
      let events = sseOk(
        await converse(fake, token, conversationBody(['abc'], {conversation_id: cid, model: 'gpt-4o-mini'})),
      )
      const final = asObj(asObj(events.at(-1)?.data).message)
      assert.deepEqual(asObj(final.content).parts, ['gpt-4o-mini says ABC'])
      assert.equal(asObj(final.metadata).model_slug, 'gpt-4o-mini')
      assert.ok(events.every((e) => asObj(e.data).conversation_id === cid))

      fake.set({split: (t) => Array.from(t), answer: () => 'héllo'})
      events = sseOk(await converse(fake, token))
      const texts = events.slice(1, -2).map((e) => (asObj(asObj(asObj(e.data).message).content).parts as string[])[0])
      assert.deepEqual(texts, ['h', 'hé', 'hél', 'héll', 'héllo'])

      fake.set({answer: () => ''})
      events = sseOk(await converse(fake, token))
      assert.equal(events.length, 3, 'empty answer: echo + final twice')
      assert.deepEqual(asObj(asObj(asObj(events[1].data).message).content).parts, [''])
    })
  })

  it('patch stream: delta_encoding preamble, add, append, bare v, final patch, message_stream_complete, [DONE]', async () => {
    await withFake({format: 'patch'}, async (fake) => {
      const token = fake.issueAccessToken(ALICE)
      const events = sseOk(await converse(fake, token, conversationBody(['What is a qubit?'])))
      const expected = 'Web answer to: What is a qubit?'
      const segments = splitWords(expected)
      assert.ok(segments.length >= 3)
      assert.equal(events.length, 2 + (segments.length - 1) + 2)

      assert.deepEqual(events[0], {event: 'delta_encoding', data: 'v1'})
      const add = asObj(events[1].data)
      assert.equal(events[1].event, undefined)
      assert.equal(add.p, '')
      assert.equal(add.o, 'add')
      const v = asObj(add.v)
      const cid = v.conversation_id
      assert.equal(typeof cid, 'string')
      const message = asObj(v.message)
      assert.deepEqual(message.author, {role: 'assistant', name: null, metadata: {}})
      assert.deepEqual(message.content, {content_type: 'text', parts: ['']})
      assert.equal(message.status, 'in_progress')
      assert.equal(message.recipient, 'all')
      assert.deepEqual(message.metadata, {message_type: 'next', model_slug: 'gpt-4o'})

      assert.deepEqual(events[2].data, {p: '/message/content/parts/0', o: 'append', v: segments[0]})
      for (let i = 1; i < segments.length - 1; i++) assert.deepEqual(events[2 + i].data, {v: segments[i]})
      assert.deepEqual(events.at(-2)?.data, {
        o: 'patch',
        v: [
          {p: '/message/content/parts/0', o: 'append', v: segments.at(-1)},
          {p: '/message/status', o: 'replace', v: 'finished_successfully'},
          {p: '/message/metadata', o: 'append', v: {finish_details: {type: 'stop'}}},
        ],
      })
      assert.deepEqual(events.at(-1)?.data, {type: 'message_stream_complete', conversation_id: cid})

      // Apply the ops like a converter would: the text equals answer().
      let text = ''
      let status = ''
      for (const event of events.slice(2, -1)) {
        const d = asObj(event.data)
        const ops = d.o === 'patch' ? (d.v as Obj[]) : [d]
        for (const op of ops) {
          if (
            typeof op.v === 'string' &&
            (op.p === undefined || op.p === '/message/content/parts/0') &&
            (op.o === undefined || op.o === 'append')
          )
            text += op.v
          if (op.p === '/message/status') status = String(op.v)
        }
      }
      assert.equal(text, expected)
      assert.equal(status, 'finished_successfully')
    })
  })

  it('patch stream with one segment carries it in the final patch; empty answer appends ""', async () => {
    await withFake({format: 'patch', answer: () => 'Single'}, async (fake) => {
      const token = fake.issueAccessToken(ALICE)
      let events = sseOk(await converse(fake, token))
      assert.equal(events.length, 4)
      assert.equal(asObj(events[2].data).o, 'patch')
      assert.deepEqual((asObj(events[2].data).v as Obj[])[0], {p: '/message/content/parts/0', o: 'append', v: 'Single'})
      fake.set({answer: () => ''})
      events = sseOk(await converse(fake, token))
      assert.deepEqual((asObj(events[2].data).v as Obj[])[0], {p: '/message/content/parts/0', o: 'append', v: ''})
      fake.set({answer: () => 'a b', format: 'cumulative'})
      events = sseOk(await converse(fake, token))
      assert.equal(
        asObj(asObj(asObj(events[0].data).message).author).role,
        'user',
        'back to cumulative: user echo first',
      )
      assert.equal(events.length, 1 + 2 + 2)
    })
  })

  it('citations option: metadata.citations with code-point offsets, only for complete, known marks', async () => {
    const targets = {0: {url: 'https://a.example/', title: 'A'}, 2: {url: 'https://c.example/', title: 'C'}}
    const answer = 'Fact【0†source】 and 中文【2†来源】 unknown【1†source】.'
    const expected = citationsOf(answer, targets)
    assert.equal(expected.length, 2)
    assert.deepEqual(expected[0], {
      start_ix: 4,
      end_ix: 14,
      citation_format_type: 'tether_og',
      metadata: {
        type: 'webpage',
        title: 'A',
        url: 'https://a.example/',
        text: '',
        pub_date: null,
        extra: {cited_message_idx: 0, search_result_idx: null, evidence_text: 'source'},
      },
    })
    assert.equal(
      Array.from(answer)
        .slice(expected[1].start_ix as number, expected[1].end_ix as number)
        .join(''),
      '【2†来源】',
    )
    await withFake(
      {answer: () => answer, citations: targets, split: (t) => [t.slice(0, 6), t.slice(6)]},
      async (fake) => {
        const token = fake.issueAccessToken(ALICE)
        const events = sseOk(await converse(fake, token))
        const metas = events.slice(1).map((e) => asObj(asObj(asObj(e.data).message).metadata))
        assert.deepEqual(metas[0].citations, [], 'mark split across segments: not complete yet')
        assert.deepEqual(metas.at(-1)?.citations, expected)
        fake.set({format: 'patch'})
        const patch = sseOk(await converse(fake, token))
        const ops = asObj(patch.at(-2)?.data).v as Obj[]
        assert.deepEqual(ops[2].v, {finish_details: {type: 'stop'}, citations: expected})
      },
    )
  })

  it('401 {detail} for missing, unknown, expired and revoked access tokens and for refresh tokens; models list', async () => {
    await withFake({}, async (fake) => {
      const valid = fake.issueAccessToken(ALICE)
      const models = await call(fake, 'GET', '/backend-api/models?history_and_training_disabled=false', {token: valid})
      assert.equal(models.status, 200)
      assert.deepEqual(json(models), {models: WEB_MODEL_SLUGS.map((slug) => ({slug}))})
      assert.deepEqual(WEB_MODEL_SLUGS, [
        'auto',
        'gpt-5-2',
        'gpt-5-2-thinking',
        'gpt-4-1',
        'gpt-4o',
        'gpt-4o-mini',
        'o3',
      ])

      const expired = fake.issueAccessToken(ALICE, -5)
      assert.ok((jwtPayload(expired).exp as number) < Date.now() / 1000)
      const revoked = fake.issueAccessToken(ALICE)
      fake.revoke(revoked)
      const forged = fakeJwt({exp: Math.floor(Date.now() / 1000) + 3600, [PROFILE_CLAIM]: {email: ALICE}})
      const rt = fake.issueRefreshToken(ALICE)
      assert.match(
        detailOf(await call(fake, 'POST', '/backend-api/conversation', {body: conversationBody()}), 401),
        /credentials/,
      )
      assert.match(detailOf(await converse(fake, expired), 401), /expired/)
      assert.match(detailOf(await converse(fake, revoked), 401), /invalidated/)
      assert.match(detailOf(await converse(fake, forged), 401), /Could not parse/)
      assert.match(detailOf(await converse(fake, rt), 401), /Could not parse/)
      detailOf(await call(fake, 'GET', '/backend-api/models', {token: expired}), 401)
      detailOf(await call(fake, 'GET', '/backend-api/models'), 401)
      assert.equal(fake.conversations.length, 0)
      assert.equal(fake.maxInFlight(ALICE), 0, 'rejected tokens are not counted')
      assert.equal((await converse(fake, valid)).status, 200)
    })
  })

  it('access tokens carry the profile and auth claims; refresh tokens are opaque', async () => {
    await withFake({accessTtlS: 120}, async (fake) => {
      const token = fake.issueAccessToken(BOB)
      const claims = jwtPayload(token)
      const now = Date.now() / 1000
      assert.ok(Math.abs((claims.exp as number) - now - 120) <= 2)
      assert.ok(Math.abs((claims.iat as number) - now) <= 2)
      assert.deepEqual(asObj(claims[PROFILE_CLAIM]).email, BOB)
      assert.equal(asObj(claims[AUTH_CLAIM]).chatgpt_account_id, webAccountId(BOB))
      assert.match(String(asObj(claims[AUTH_CLAIM]).user_id), /^user-/)
      assert.ok(token.startsWith('eyJhbGciOiJSUzI1NiI'))
      assert.notEqual(fake.issueAccessToken(BOB), token, 'each token is unique')
      const rt = fake.issueRefreshToken(BOB)
      assert.match(rt, /^rt_[A-Za-z0-9_-]+$/)
      assert.ok(!rt.startsWith('eyJ'))
    })
  })

  it('400 {detail} for malformed conversation bodies; nothing is recorded', async () => {
    await withFake({}, async (fake) => {
      const token = fake.issueAccessToken(ALICE)
      const good = conversationBody()
      const message = (patch: Obj) => ({
        ...conversationBody(),
        messages: [{...asObj((good.messages as unknown[])[0]), ...patch}],
      })
      const bad: Array<[unknown, RegExp]> = [
        [{...good, action: 'variant'}, /action/],
        [{...good, messages: []}, /messages/],
        [{...good, messages: 'hi'}, /messages/],
        [message({id: 'not-a-uuid'}), /id/],
        [message({id: '7d5dbfb0-6511-1192-b5f2-13779fed444e'}), /UUID v4/],
        [message({author: {}}), /author\.role/],
        [message({author: {role: 'wizard'}}), /author\.role/],
        [message({content: {content_type: 'multimodal_text', parts: ['x']}}), /content_type/],
        [message({content: {content_type: 'text', parts: [{x: 1}]}}), /parts/],
        [message({content: {content_type: 'text', parts: []}}), /parts/],
        [{...good, parent_message_id: undefined}, /parent_message_id/],
        [{...good, parent_message_id: 'x'}, /parent_message_id/],
        [{...good, model: undefined}, /model/],
        [{...good, history_and_training_disabled: 'yes'}, /history_and_training_disabled/],
        [[1, 2], /object/],
      ]
      for (const [body, pattern] of bad)
        assert.match(detailOf(await converse(fake, token, body), 400), pattern, JSON.stringify(body))
      assert.match(detailOf(await call(fake, 'POST', '/backend-api/conversation', {token, raw: '{nope'}), 400), /JSON/)
      assert.equal(fake.conversations.length, 0)
    })
  })

  it('404 for anything else', async () => {
    await withFake({}, async (fake) => {
      const token = fake.issueAccessToken(ALICE)
      assert.equal(detailOf(await call(fake, 'GET', '/backend-api/conversation', {token}), 404), 'Not Found')
      detailOf(await call(fake, 'POST', '/backend-api/models', {token, body: {}}), 404)
      detailOf(await call(fake, 'GET', '/v1/models', {token}), 404)
      detailOf(await call(fake, 'GET', '/oauth/token'), 404)
    })
  })

  it('/oauth/token: JSON and form bodies; rotation invalidates the old refresh token', async () => {
    await withFake({accessTtlS: 900}, async (fake) => {
      const rt1 = fake.issueRefreshToken(ALICE)
      const first = await oauth(fake, oauthFields(rt1))
      assert.equal(first.status, 200, first.text)
      const body1 = json(first)
      assert.deepEqual(Object.keys(body1).sort(), [
        'access_token',
        'expires_in',
        'id_token',
        'refresh_token',
        'token_type',
      ])
      assert.equal(body1.expires_in, 900)
      assert.equal(body1.token_type, 'Bearer')
      const rt2 = body1.refresh_token as string
      assert.match(rt2, /^rt_/)
      assert.notEqual(rt2, rt1)
      assert.equal(asObj(jwtPayload(body1.access_token as string)[PROFILE_CLAIM]).email, ALICE)
      assert.equal(jwtPayload(body1.id_token as string).email, ALICE)
      assert.equal((await converse(fake, body1.access_token as string)).status, 200, 'the new access token works')

      const reused = await oauth(fake, oauthFields(rt1), true)
      assert.equal(reused.status, 400)
      assert.equal(json(reused).error, 'invalid_grant')
      assert.equal(typeof json(reused).error_description, 'string')

      const second = await oauth(fake, oauthFields(rt2), true)
      assert.equal(second.status, 200, second.text)
      const rt3 = json(second).refresh_token as string
      assert.notEqual(rt3, rt2)

      fake.revoke(rt3)
      assert.equal(json(await oauth(fake, oauthFields(rt3))).error, 'invalid_grant')
      assert.equal(json(await oauth(fake, oauthFields('rt_unknown'))).error, 'invalid_grant')

      assert.deepEqual(
        fake.exchanges.map((e) => [e.style, e.refreshToken, e.ok]),
        [
          ['oauth', rt1, true],
          ['oauth', rt1, false],
          ['oauth', rt2, true],
          ['oauth', rt3, false],
          ['oauth', 'rt_unknown', false],
        ],
      )
      assert.deepEqual(fake.exchanges[0].body, oauthFields(rt1))
      assert.deepEqual(fake.exchanges[1].body, oauthFields(rt1), 'the form body is recorded as fields')
    })
  })

  it('/oauth/token: invalid_request without grant_type / client_id / refresh_token; unsupported grant', async () => {
    await withFake({}, async (fake) => {
      const rt = fake.issueRefreshToken(ALICE)
      const error = async (fields: Record<string, string>, form = false) => {
        const reply = await oauth(fake, fields, form)
        assert.equal(reply.status, 400)
        return json(reply).error
      }
      const {grant_type: _g, ...noGrant} = oauthFields(rt)
      const {client_id: _c, ...noClient} = oauthFields(rt)
      const {refresh_token: _r, ...noToken} = oauthFields(rt)
      assert.equal(await error(noGrant), 'invalid_request')
      assert.equal(await error(noClient, true), 'invalid_request')
      assert.equal(await error(noToken), 'invalid_request')
      assert.equal(await error({...oauthFields(rt), grant_type: 'password'}), 'unsupported_grant_type')
      const garbage = await call(fake, 'POST', '/oauth/token', {raw: 'not json'})
      assert.equal(json(garbage).error, 'invalid_request')
      assert.equal((await oauth(fake, oauthFields(rt))).status, 200, 'the token was not consumed by the bad requests')
      assert.equal(fake.exchanges.filter((e) => e.ok).length, 1)
    })
  })

  it('/auth/refresh_token: Bearer refresh token; rotation; 401 {detail} when invalid', async () => {
    await withFake({}, async (fake) => {
      const rt1 = fake.issueRefreshToken(BOB)
      const first = await refreshEndpoint(fake, rt1)
      assert.equal(first.status, 200, first.text)
      const body = json(first)
      assert.deepEqual(Object.keys(body).sort(), [
        'access_token',
        'expires_in',
        'id_token',
        'refresh_token',
        'token_type',
      ])
      assert.equal(body.expires_in, 3600)
      const rt2 = body.refresh_token as string
      assert.match(detailOf(await refreshEndpoint(fake, rt1), 401), /already been used/)
      const second = await refreshEndpoint(fake, rt2, '')
      assert.equal(second.status, 200, 'empty body accepted')
      assert.match(detailOf(await refreshEndpoint(fake, 'rt_nope'), 401), /invalid/i)
      assert.match(detailOf(await call(fake, 'POST', '/auth/refresh_token', {body: {}}), 401), /Missing/)
      const access = fake.issueAccessToken(BOB)
      detailOf(await refreshEndpoint(fake, access), 401)
      assert.deepEqual(
        fake.exchanges.map((e) => [e.style, e.refreshToken, e.ok]),
        [
          ['refresh-endpoint', rt1, true],
          ['refresh-endpoint', rt1, false],
          ['refresh-endpoint', rt2, true],
          ['refresh-endpoint', 'rt_nope', false],
          ['refresh-endpoint', '', false],
          ['refresh-endpoint', access, false],
        ],
      )
      assert.deepEqual(fake.exchanges[0].body, {})
      assert.equal(fake.exchanges[2].body, undefined)
    })
  })

  it('without rotate the same refresh token keeps working on both styles and no refresh_token is returned', async () => {
    await withFake({rotate: false}, async (fake) => {
      const rt = fake.issueRefreshToken(ALICE)
      const tokens = new Set<string>()
      for (let i = 0; i < 2; i++) {
        for (const reply of [await oauth(fake, oauthFields(rt), i === 1), await refreshEndpoint(fake, rt)]) {
          assert.equal(reply.status, 200, reply.text)
          const body = json(reply)
          assert.equal('refresh_token' in body, false)
          tokens.add(body.access_token as string)
        }
      }
      assert.equal(tokens.size, 4, 'a fresh access token each time')
      assert.ok(fake.exchanges.every((e) => e.ok && e.refreshToken === rt))
      fake.set({rotate: true})
      assert.equal(json(await oauth(fake, oauthFields(rt))).refresh_token !== undefined, true)
      assert.equal((await refreshEndpoint(fake, rt)).status, 401)
    })
  })

  it('authFault: the next exchange answers with the status', async () => {
    await withFake({}, async (fake) => {
      const rt = fake.issueRefreshToken(ALICE)
      fake.authFault({type: 'status', status: 503})
      const failed = await oauth(fake, oauthFields(rt))
      assert.equal(failed.status, 503)
      assert.match(String(json(failed).detail), /503/)
      assert.equal((await refreshEndpoint(fake, rt)).status, 200, 'the faulted exchange did not consume the token')
      assert.deepEqual(
        fake.exchanges.map((e) => e.ok),
        [false, true],
      )
    })
  })

  it('maxInFlight counts overlapping conversations per account; a client abort ends the count', async () => {
    await withFake({chunkDelayMs: 40}, async (fake) => {
      const alice = fake.issueAccessToken(ALICE)
      const bob = fake.issueAccessToken(BOB)
      const running = [converse(fake, alice), converse(fake, alice), converse(fake, alice), converse(fake, bob)]
      let seen = 0
      for (let i = 0; i < 100 && seen < 3; i++) {
        seen = Math.max(seen, fake.inFlight(ALICE))
        await sleep(5)
      }
      assert.equal(seen, 3)
      const replies = await Promise.all(running)
      for (const reply of replies) sseOk(reply)
      assert.equal(fake.maxInFlight(ALICE), 3)
      assert.equal(fake.maxInFlight(BOB), 1)
      assert.equal(fake.maxInFlight('*'), 4)
      assert.equal(fake.inFlight(ALICE), 0)
      assert.equal(fake.inFlight(BOB), 0)

      fake.resetStats()
      assert.equal(fake.maxInFlight(ALICE), 0)
      assert.equal(fake.conversations.length, 0)
      sseOk(await converse(fake, alice))
      assert.equal(fake.maxInFlight(ALICE), 1)

      fake.set({chunkDelayMs: 5_000})
      const abort = new AbortController()
      const pending = converse(fake, alice, conversationBody(), abort.signal).catch((e: unknown) => e)
      for (let i = 0; i < 100 && fake.inFlight(ALICE) === 0; i++) await sleep(5)
      assert.equal(fake.inFlight(ALICE), 1)
      abort.abort()
      await pending
      for (let i = 0; i < 100 && fake.inFlight(ALICE) !== 0; i++) await sleep(5)
      assert.equal(fake.inFlight(ALICE), 0)
    })
  })

  it('status faults: JSON detail, Cloudflare-like 403 HTML, custom bodies; per account and "*"; times', async () => {
    await withFake({}, async (fake) => {
      const alice = fake.issueAccessToken(ALICE)
      const bob = fake.issueAccessToken(BOB)
      fake.fault(ALICE, {type: 'status', status: 429, headers: {'retry-after': '7'}}, 2)
      sseOk(await converse(fake, bob))
      for (let i = 0; i < 2; i++) {
        const reply = await converse(fake, alice)
        assert.match(detailOf(reply, 429), /limit/)
        assert.equal(reply.headers['retry-after'], '7')
      }
      sseOk(await converse(fake, alice))

      fake.fault('*', {type: 'status', status: 403})
      const cf = await converse(fake, bob)
      assert.equal(cf.status, 403)
      assert.match(cf.headers['content-type'] ?? '', /^text\/html/)
      assert.match(cf.text, /Just a moment/)

      fake.fault(ALICE, {type: 'status', status: 500, body: {detail: {message: 'boom', code: 'x'}}})
      const custom = await converse(fake, alice)
      assert.equal(custom.status, 500)
      assert.deepEqual(json(custom), {detail: {message: 'boom', code: 'x'}})
      fake.fault(ALICE, {type: 'status', status: 502, body: 'Bad gateway'})
      const plain = await converse(fake, alice)
      assert.equal(plain.status, 502)
      assert.equal(plain.text, 'Bad gateway')
      assert.equal(fake.conversations.length, 7, 'faulted requests are recorded')

      // A bad body is rejected before the fault is taken.
      fake.fault(ALICE, {type: 'status', status: 500})
      detailOf(await converse(fake, alice, {action: 'next'}), 400)
      assert.equal((await converse(fake, alice)).status, 500)
    })
  })

  it('die-mid-stream: N events then the socket is destroyed, no [DONE] (both formats, scripts too)', async () => {
    await withFake({}, async (fake) => {
      const alice = fake.issueAccessToken(ALICE)
      for (const format of ['cumulative', 'patch'] as const) {
        fake.set({format})
        for (const n of [0, 2]) {
          fake.fault(ALICE, {type: 'die-mid-stream', afterEvents: n})
          const reply = await converse(fake, alice)
          assert.equal(reply.status, 200)
          assert.ok(reply.error, `${format}/${n}: the body breaks off`)
          const {blocks, trailing} = parseSse(reply.text)
          assert.equal(trailing, '')
          assert.equal(blocks.length, n)
          assert.ok(!reply.text.includes('[DONE]'))
        }
        sseOk(await converse(fake, alice))
      }
      fake.fault(ALICE, {type: 'die-mid-stream', afterEvents: 1})
      fake.script(ALICE, [{data: 'one'}, {data: 'two'}, DONE])
      const cut = await converse(fake, alice)
      assert.ok(cut.error)
      assert.equal(cut.text, 'data: one\n\n')
    })
  })

  it('error-event: a message-less event with the error, then [DONE]', async () => {
    await withFake({}, async (fake) => {
      const alice = fake.issueAccessToken(ALICE)
      const cid = randomUUID()
      fake.fault('*', {type: 'error-event', message: 'Something went wrong. If this issue persists please contact us.'})
      const events = sseOk(await converse(fake, alice, conversationBody(['x'], {conversation_id: cid})))
      assert.deepEqual(events, [
        {
          data: {
            message: null,
            conversation_id: cid,
            error: 'Something went wrong. If this issue persists please contact us.',
          },
        },
      ])
    })
  })

  it('script(): exactly the scripted events, strings verbatim, no automatic [DONE]; times and accounts', async () => {
    await withFake({chunkDelayMs: 1}, async (fake) => {
      const alice = fake.issueAccessToken(ALICE)
      const bob = fake.issueAccessToken(BOB)
      const events = [
        {event: 'delta_encoding', data: '"v1"'},
        {data: {v: 'x', nested: {a: [1, null]}}},
        {data: 'data: 20 not json'},
        {data: '{"conversation_id": "c"}'},
        {event: 'ping', data: undefined},
        DONE,
      ]
      fake.script(ALICE, events, 2)
      const expected =
        'event: delta_encoding\ndata: "v1"\n\ndata: {"v":"x","nested":{"a":[1,null]}}\n\ndata: data: 20 not json\n\ndata: {"conversation_id": "c"}\n\nevent: ping\n\ndata: [DONE]\n\n'
      for (let i = 0; i < 2; i++) {
        const reply = await converse(fake, alice)
        assert.equal(reply.status, 200)
        assert.equal(reply.headers['content-type'], 'text/event-stream; charset=utf-8')
        assert.equal(reply.error, undefined)
        assert.equal(reply.text, expected)
      }
      sseOk(await converse(fake, alice))

      fake.script('*', [{data: {only: 1}}])
      const noDone = await converse(fake, bob)
      assert.equal(noDone.error, undefined, 'the response ends cleanly')
      assert.equal(noDone.text, 'data: {"only":1}\n\n')

      // A status fault goes first and leaves the script queued.
      fake.script(BOB, [DONE])
      fake.fault(BOB, {type: 'status', status: 429})
      assert.equal((await converse(fake, bob)).status, 429)
      assert.equal((await converse(fake, bob)).text, 'data: [DONE]\n\n')
      sseOk(await converse(fake, bob))
    })
  })

  it('close() ends streams in progress', async () => {
    const fake = await FakeChatGPTWeb.start({chunkDelayMs: 10_000})
    const token = fake.issueAccessToken(ALICE)
    const pending = converse(fake, token)
    for (let i = 0; i < 100 && fake.inFlight(ALICE) === 0; i++) await sleep(5)
    const started = Date.now()
    await fake.close()
    const reply = await pending.catch((e: unknown) => e)
    assert.ok(Date.now() - started < 2_000)
    assert.ok(reply instanceof Error || (reply as Reply).error !== undefined)
  })
})
