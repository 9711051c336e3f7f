import assert from 'node:assert/strict'
import {request} from 'node:http'
import {connect} from 'node:net'
import {after, before, describe, it} from 'node:test'

import fc from 'fast-check'

import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'
import {assertSchema, parseSseBody} from '../helpers/openapi.js'

/**
 * Property-based fuzz of every client-facing endpoint: whatever a client sends, the daemon
 * answers (no hang), never with a 5xx, and every 4xx is a JSON error envelope — the OpenAI
 * one, or `{code, message, data: null}` for `/session`. Bodies the test knows to be broken
 * (truncated JSON, invalid UTF-8, too deep, too big, not an object) must get the error that
 * says so. Reproduce a failure with FUZZ_SEED=<seed> (fast-check prints it); FUZZ_SCALE=10 runs
 * ten times as many cases.
 */

const KEY_A = 'sk-fuzz-key-a-abcdefghijklmnopqrstu0001'
const KEY_B = 'sk-fuzz-key-b-abcdefghijklmnopqrstu0002'
const MODELS = ['gpt-4o-mini', 'text-embedding-3-small', 'dall-e-3', 'gpt-3.5-turbo-instruct']
const LIMIT = 65_536
const DAY = 86_400_000
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
/** FUZZ_SCALE=10 runs ten times as many cases (a longer hunt). */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1)

type PostEndpoint = 'chat' | 'completions' | 'embeddings' | 'images' | 'session'
type Endpoint = PostEndpoint | 'billing' | 'model'
type Json = null | boolean | number | string | Json[] | {[key: string]: Json}
type Body = Record<string, unknown>
/** What the daemon must answer for this case, when the test knows it. */
type Expect = {status: number[]; code?: string}
type Answer = {status: number; contentType: string; text: string; requestId: string | null}

const PATHS: Record<PostEndpoint, string> = {
  chat: '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
  images: '/v1/images/generations',
  session: '/session',
}

function clip(text: string, max = 400): string {
  if (text.length <= max) return text
  const head = Math.floor(max * 0.75)
  return `${text.slice(0, head)}…[${text.length - head - 100} more chars]…${text.slice(-100)}`
}

function byteLength(body: string | Uint8Array | undefined): number {
  if (body === undefined) return 0
  return typeof body === 'string' ? Buffer.byteLength(body) : body.length
}

/** One generated request; prints itself short (fast-check shows it as the counterexample). */
class Case {
  constructor(
    readonly endpoint: Endpoint,
    readonly kind: string,
    readonly method: 'GET' | 'POST',
    readonly path: string,
    readonly body: string | Uint8Array | undefined,
    readonly chunked: boolean,
    readonly expect?: Expect,
  ) {}

  describe(): string {
    let shown = ''
    if (typeof this.body === 'string') shown = ` ${JSON.stringify(clip(this.body))}`
    else if (this.body)
      shown = ` hex ${clip(Buffer.from(this.body).toString('hex'), 300)} (as UTF-8: ${JSON.stringify(clip(Buffer.from(this.body).toString('utf8'), 200))})`
    const body =
      this.method === 'POST' ? `, body ${byteLength(this.body)} bytes${this.chunked ? ' (chunked)' : ''}:${shown}` : ''
    const expect = this.expect
      ? `, expected ${this.expect.status.join('|')}${this.expect.code ? ` ${this.expect.code}` : ''}`
      : ''
    return `[${this.kind}] ${this.method} ${clip(this.path, 300)}${expect}${body}`
  }

  [fc.toStringMethod](): string {
    return this.describe()
  }
}

// ---- value generators ----

/** JSON.stringify cannot write these number literals; markers are swapped for them in the text. */
const RAW_NUMBERS = [
  '1e999',
  '-1e999',
  '1E+400',
  '-0',
  '0.0',
  '1.5e-400',
  '123456789012345678901234567890',
  '9007199254740993',
  '1e2',
  '-1.0',
]
const RAW_MARK = /"\\u0000raw:([^"\\]*)\\u0000"/g
const raw = (literal: string) => `\u0000raw:${literal}\u0000`

function toJsonText(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(RAW_MARK, '$1')
}

const NAN_LIKE = [
  'NaN',
  'Infinity',
  '-Infinity',
  '1e999',
  '',
  ' ',
  '0x10',
  '1_000',
  'true',
  'null',
  '-1',
  '٣',
  'yes',
  '10abc',
]

const text = fc.oneof(fc.string({maxLength: 40}), fc.string({unit: 'binary', maxLength: 40}))

const scalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({min: -1_000_000, max: 1_000_000}),
  fc.double(),
  fc.constantFrom(-1, 0, 0.5, 2 ** 31, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, 1e21, 1e308, -1e308, 5e-324),
  fc.constantFrom(...NAN_LIKE),
  fc.constantFrom(...RAW_NUMBERS).map(raw),
  text,
)

/** A value of (almost certainly) the wrong type for any field. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  {weight: 4, arbitrary: scalar},
  {weight: 1, arbitrary: fc.array(scalar, {maxLength: 4})},
  {weight: 1, arbitrary: fc.dictionary(fc.string({maxLength: 8}), scalar, {maxKeys: 4})},
  {weight: 1, arbitrary: fc.jsonValue({maxDepth: 3})},
)

const int = fc.oneof(fc.integer({min: -3, max: 12}), fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, 1e21, 0.5))
const bool = fc.oneof(fc.boolean(), fc.constantFrom('yes', 'true', 1, 0))
const temperature = fc.oneof(
  fc.double({min: -1, max: 3, noNaN: true}),
  fc.constantFrom(...NAN_LIKE),
  fc.constantFrom(...RAW_NUMBERS).map(raw),
)
const model = fc.oneof(
  fc.constantFrom(...MODELS, 'gpt-9', '', ' ', 'GPT-4O-MINI', 'gpt-4o-mini\u0000', 'dall-e-2', 'gpt-4o-mini/../x'),
  fc.string({maxLength: 30}),
)
const stop = fc.oneof(text, fc.array(text, {maxLength: 6}), junk)
const streamOptions = fc.oneof(
  fc.record({include_usage: fc.oneof(fc.boolean(), junk)}, {requiredKeys: []}),
  fc.array(junk, {maxLength: 2}),
  text,
)
const message = fc.record(
  {
    role: fc.oneof(
      {
        weight: 3,
        arbitrary: fc.constantFrom('user', 'system', 'assistant', 'developer', 'tool', 'function', 'bogus', ''),
      },
      {weight: 1, arbitrary: junk},
    ),
    content: fc.oneof(
      text,
      fc.array(fc.record({type: fc.constantFrom('text', 'image_url', 'bogus'), text}, {requiredKeys: []}), {
        maxLength: 3,
      }),
      junk,
    ),
    name: text,
  },
  {requiredKeys: ['role']},
)
const messages = fc.oneof(
  {weight: 3, arbitrary: fc.array(message, {minLength: 1, maxLength: 4})},
  {weight: 1, arbitrary: fc.array(junk, {maxLength: 4})},
  {weight: 1, arbitrary: text},
  {weight: 1, arbitrary: fc.dictionary(fc.string({maxLength: 6}), junk, {maxKeys: 3})},
)
/** prompt / input: every form the API takes, and nested arrays of mixed types it does not. */
const promptLike = fc.oneof(
  text,
  fc.array(text, {maxLength: 20}),
  fc.array(fc.integer({min: -5, max: 250_000}), {maxLength: 12}),
  fc.array(fc.array(fc.nat({max: 100_000}), {maxLength: 5}), {maxLength: 4}),
  fc.array(
    fc.oneof(
      text,
      fc.integer(),
      fc.array(fc.oneof(text, fc.integer(), fc.double(), fc.constant(null)), {maxLength: 3}),
    ),
    {maxLength: 5},
  ),
  junk,
)

/**
 * Request objects of one endpoint: mostly a valid base with up to three fields replaced (by a
 * plausible value, a wrong-typed one, or removed), sometimes those fields alone.
 */
function shaped(base: fc.Arbitrary<Body>, fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Body> {
  const keys = Object.keys(fields)
  const values = fc.record(
    Object.fromEntries(
      keys.map((k) => [
        k,
        fc.oneof(
          {weight: 3, arbitrary: fields[k]},
          {weight: 3, arbitrary: junk},
          {weight: 1, arbitrary: fc.constant(undefined)},
        ),
      ]),
    ),
  )
  const mutated = fc.tuple(base, values, fc.subarray(keys, {maxLength: 3})).map(([b, v, chosen]) => {
    const out: Body = {...b}
    for (const k of chosen) out[k] = v[k]
    return out
  })
  return fc.oneof({weight: 4, arbitrary: mutated}, {weight: 1, arbitrary: fc.record(fields, {requiredKeys: []})})
}

const SHAPED: Record<PostEndpoint, fc.Arbitrary<Body>> = {
  chat: shaped(
    fc.record({
      model: fc.constant('gpt-4o-mini'),
      messages: fc.array(fc.record({role: fc.constant('user'), content: text}), {minLength: 1, maxLength: 2}),
      stream: fc.boolean(),
    }),
    {
      model,
      messages,
      stream: bool,
      stream_options: streamOptions,
      n: int,
      max_tokens: int,
      max_completion_tokens: int,
      temperature,
      top_p: temperature,
      logprobs: fc.oneof(fc.boolean(), int),
      top_logprobs: int,
      stop,
      seed: int,
      user: text,
      tools: fc.array(junk, {maxLength: 2}),
      response_format: fc.record({type: fc.constantFrom('json_object', 'text', 'bogus')}),
    },
  ),
  completions: shaped(
    fc.record({
      model: fc.constant('gpt-3.5-turbo-instruct'),
      prompt: fc.oneof(text, fc.array(text, {minLength: 1, maxLength: 3})),
      stream: fc.boolean(),
    }),
    {
      model,
      prompt: promptLike,
      suffix: text,
      max_tokens: fc.oneof(int, fc.constant(0)),
      n: fc.integer({min: -1, max: 130}),
      best_of: fc.integer({min: -1, max: 22}),
      stream: bool,
      stream_options: streamOptions,
      logprobs: fc.integer({min: -1, max: 6}),
      echo: bool,
      stop,
      temperature,
      user: text,
    },
  ),
  embeddings: shaped(
    fc.record({
      model: fc.constant('text-embedding-3-small'),
      input: fc.oneof(text, fc.array(text, {minLength: 1, maxLength: 3})),
    }),
    {
      model,
      input: promptLike,
      encoding_format: fc.constantFrom('float', 'base64', 'FLOAT', ''),
      dimensions: fc.integer({min: -1, max: 5000}),
      user: text,
    },
  ),
  images: shaped(fc.record({prompt: text, model: fc.constant('dall-e-3')}), {
    prompt: text,
    model: fc.constantFrom('dall-e-3', 'dall-e-2', 'gpt-image-1', 'gpt-4o-mini'),
    n: int,
    size: fc.constantFrom('1024x1024', '1x1', 'huge'),
    response_format: fc.constantFrom('url', 'b64_json', 'png'),
    quality: fc.constantFrom('hd', 'standard', 'ultra'),
    style: fc.constantFrom('vivid', 'natural', ''),
    user: text,
  }),
  session: shaped(
    fc.record({sessionId: fc.string({minLength: 1, maxLength: 12}), content: fc.string({minLength: 1, maxLength: 40})}),
    {
      sessionId: fc.oneof(
        fc.string({minLength: 1, maxLength: 12}),
        fc.string({minLength: 250, maxLength: 260}),
        fc.constant(''),
      ),
      content: text,
      model,
      system: text,
    },
  ),
}

/** Nesting depth of a generated text (its strings hold no brackets). */
function maxDepth(text: string): number {
  let depth = 0
  let max = 0
  for (const ch of text) {
    if (ch === '[' || ch === '{') max = Math.max(max, ++depth)
    else if (ch === ']' || ch === '}') depth--
  }

  return max
}

const errorExpect = (endpoint: Endpoint, status: number, code: string): Expect =>
  endpoint === 'session' ? {status: [status]} : {status: [status], code}

/** Every kind of body for one POST endpoint. */
function postCases(endpoint: PostEndpoint): fc.Arbitrary<Case> {
  const path = PATHS[endpoint]
  const chunked = fc.oneof({weight: 3, arbitrary: fc.constant(false)}, {weight: 1, arbitrary: fc.constant(true)})
  const make = (kind: string, body: string | Uint8Array, isChunked: boolean, expect?: Expect) => {
    const size = byteLength(body)
    // the size limit is checked before anything else
    const expected = size > LIMIT ? errorExpect(endpoint, 413, 'request_too_large') : expect
    return new Case(endpoint, kind, 'POST', path, body, isChunked, expected)
  }

  const shapedCase = fc.tuple(SHAPED[endpoint], chunked).map(([o, c]) => make('shaped', toJsonText(o), c))
  const jsonValue = fc.tuple(fc.jsonValue(), chunked).map(([v, c]) => {
    const isObject = typeof v === 'object' && v !== null && !Array.isArray(v)
    return make(
      'json-value',
      JSON.stringify(v),
      c,
      isObject ? undefined : errorExpect(endpoint, 400, 'invalid_request'),
    )
  })
  const notAnObject = fc
    .tuple(
      fc.constantFrom(
        '"hello"',
        '42',
        '-1.5e3',
        '[1,2]',
        '[]',
        'null',
        'true',
        '""',
        `[${JSON.stringify({model: 'gpt-4o-mini'})}]`,
      ),
      chunked,
    )
    .map(([t, c]) => make('not-an-object', t, c, errorExpect(endpoint, 400, 'invalid_request')))
  const empty = fc
    .tuple(fc.constantFrom('', ' ', '\n', '\t\r\n '), chunked)
    .map(([t, c]) => make('empty', t, c, errorExpect(endpoint, 400, 'invalid_json')))
  const truncated = fc.tuple(SHAPED[endpoint], fc.nat(), chunked).map(([o, at, c]) => {
    const full = toJsonText(o)
    return make('truncated', full.slice(0, at % full.length), c, errorExpect(endpoint, 400, 'invalid_json'))
  })
  const INVALID_UTF8 = [
    [0xff],
    [0xfe],
    [0xc0, 0x80],
    [0xc1, 0xbf],
    [0x80],
    [0xbf],
    [0xed, 0xa0, 0x80],
    [0xe0, 0x80, 0xaf],
    [0xe2, 0x82],
    [0xf4, 0x90, 0x80, 0x80],
    [0xf8, 0x88, 0x80, 0x80, 0x80],
    [0xf0, 0x9f, 0x98],
  ]
  const invalidUtf8 = fc
    .tuple(SHAPED[endpoint], fc.nat(), fc.constantFrom(...INVALID_UTF8), chunked)
    .map(([o, at, bad, c]) => {
      const bytes = Buffer.from(toJsonText(o), 'utf8')
      const i = at % (bytes.length + 1)
      return make(
        'invalid-utf8',
        new Uint8Array(Buffer.concat([bytes.subarray(0, i), Buffer.from(bad), bytes.subarray(i)])),
        c,
        errorExpect(endpoint, 400, 'invalid_json'),
      )
    })
  const randomBytes = fc
    .tuple(fc.uint8Array({maxLength: 300}), chunked)
    .map(([b, c]) =>
      make('random-bytes', b, c, b.length === 0 ? errorExpect(endpoint, 400, 'invalid_json') : undefined),
    )
  const deep = fc
    .record({
      depth: fc.oneof(
        fc.integer({min: 95, max: 105}),
        fc.integer({min: 150, max: 5000}),
        fc.integer({min: 20_000, max: 70_000}),
      ),
      open: fc.constantFrom<[string, string, string]>(['[', ']', ''], ['{"a":', '}', '1'], ['{"":[', ']}', '']),
      closed: fc.boolean(),
      wrap: fc.boolean(),
      chunked,
    })
    .map(({depth, open: [open, close, core], closed, wrap, chunked: c}) => {
      const nested = open.repeat(depth) + core + (closed ? close.repeat(depth) : '')
      const model = endpoint === 'completions' ? 'gpt-3.5-turbo-instruct' : 'gpt-4o-mini'
      const body = wrap
        ? `{"model":"${model}","messages":[{"role":"user","content":${nested}}],"prompt":${nested}` +
          (closed ? '}' : '')
        : nested
      // unbalanced, or deeper than 100 levels (refused before parsing): invalid_json either way
      return make(
        `deep-${depth}${closed ? '' : '-unclosed'}${wrap ? '-wrapped' : ''}`,
        body,
        c,
        !closed || maxDepth(body) > 100 ? errorExpect(endpoint, 400, 'invalid_json') : undefined,
      )
    })
  const huge = fc
    .record({
      size: fc.oneof(
        fc.integer({min: 1_000, max: LIMIT - 200}),
        fc.integer({min: LIMIT - 200, max: LIMIT + 200}),
        fc.integer({min: LIMIT + 1, max: 140_000}),
      ),
      unit: fc.constantFrom('x', 'é', '😀', '\n', '"', '\\', '\u0000'),
      where: fc.constantFrom('content', 'model', 'key', 'array'),
      chunked,
    })
    .map(({size, unit, where, chunked: c}) => {
      const perUnit = Buffer.byteLength(JSON.stringify(unit)) - 2
      const big = unit.repeat(Math.max(1, Math.floor((size - 120) / perUnit)))
      const base: Body = {
        chat: {model: 'gpt-4o-mini', messages: [{role: 'user', content: 'hi'}]},
        completions: {model: 'gpt-3.5-turbo-instruct', prompt: 'hi'},
        embeddings: {model: 'text-embedding-3-small', input: 'hi'},
        images: {model: 'dall-e-3', prompt: 'hi'},
        // a session of its own: a history of huge turns makes every later turn slow (see the stall test below)
        session: {sessionId: `fuzz-huge-${where}-${size}-${unit.codePointAt(0)}`, content: 'hi'},
      }[endpoint]
      if (where === 'content')
        Object.assign(
          base,
          {
            chat: {messages: [{role: 'user', content: big}]},
            completions: {prompt: big},
            embeddings: {input: big},
            images: {prompt: big},
            session: {content: big},
          }[endpoint],
        )
      else if (where === 'model') base.model = big
      else if (where === 'key') base[big] = 1
      else base.stop = Array.from({length: Math.max(1, Math.floor(size / 2))}, () => 1)
      return make(`huge-${where}`, toJsonText(base), c)
    })

  return fc.oneof(
    {weight: 8, arbitrary: shapedCase},
    {weight: 2, arbitrary: jsonValue},
    {weight: 1, arbitrary: notAnObject},
    {weight: 1, arbitrary: empty},
    {weight: 2, arbitrary: truncated},
    {weight: 2, arbitrary: invalidUtf8},
    {weight: 1, arbitrary: randomBytes},
    {weight: 2, arbitrary: deep},
    {weight: 2, arbitrary: huge},
  )
}

/** Percent-encode the UTF-8 of a string (lone surrogates become U+FFFD first). */
const encode = (s: string) => encodeURIComponent(Buffer.from(s, 'utf8').toString('utf8'))

const dateText = fc
  .date({min: new Date('1969-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true})
  .map((d) => d.toISOString().slice(0, 10))
const queryValue = fc.oneof(
  {weight: 3, arbitrary: dateText},
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '2024-02-30',
      '2024-13-01',
      '2023-02-29',
      '0000-00-00',
      '9999-99-99',
      '2024-1-1',
      '20240101',
      '2024-01-01T00:00:00Z',
      ' 2024-01-01',
      '2024-01-01\n',
      '+275760-09-13',
      '-000001-01-01',
      '２０２４-０１-０１',
      '2024–01–01',
      '',
    ),
  },
  {weight: 2, arbitrary: text},
  {weight: 1, arbitrary: fc.string({minLength: 500, maxLength: 1500})},
)

function billingCases(): fc.Arbitrary<Case> {
  const prefix = fc.constantFrom('/v1/dashboard/billing/usage', '/dashboard/billing/usage')
  const anyQuery = fc
    .record({
      prefix,
      start: fc.option(queryValue, {nil: undefined}),
      end: fc.option(queryValue, {nil: undefined}),
      extra: fc.array(fc.tuple(text, text), {maxLength: 2}),
      encoded: fc.boolean(),
    })
    .map(({prefix: p, start, end, extra, encoded}) => {
      const put = (s: string) => (encoded ? encode(s) : s)
      const parts = [
        ...(start === undefined ? [] : [`start_date=${put(start)}`]),
        ...extra.map(([k, v]) => `${put(k)}=${put(v)}`),
        ...(end === undefined ? [] : [`end_date=${put(end)}`]),
      ]
      return new Case('billing', 'query', 'GET', `${p}?${parts.join('&')}`, undefined, false, {status: [200, 400]})
    })
  // a valid window (1 to 100 days) must be answered
  const validWindow = fc
    .tuple(
      prefix,
      fc.date({min: new Date('2000-01-01T00:00:00Z'), max: new Date('2090-01-01T00:00:00Z'), noInvalidDate: true}),
      fc.integer({min: 1, max: 100}),
    )
    .map(([p, d, days]) => {
      const start = new Date(Math.floor(d.getTime() / DAY) * DAY)
      const end = new Date(start.getTime() + days * DAY)
      return new Case(
        'billing',
        'valid-window',
        'GET',
        `${p}?start_date=${start.toISOString().slice(0, 10)}&end_date=${end.toISOString().slice(0, 10)}`,
        undefined,
        false,
        {status: [200]},
      )
    })
  return fc.oneof({weight: 4, arbitrary: anyQuery}, {weight: 1, arbitrary: validWindow})
}

function modelCases(): fc.Arbitrary<Case> {
  const id = fc.oneof(
    {weight: 2, arbitrary: fc.constantFrom(...MODELS)},
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '',
        '.',
        '..',
        '%',
        '%zz',
        '%E0%A4%A',
        '%00',
        'a/b',
        'gpt-4o-mini/',
        '/gpt-4o-mini',
        'ft:gpt-4o-mini:org::id',
        'gpt-4o-mini?x=1',
        'gpt-4o-mini#frag',
        '\\',
        '%2F..%2F..%2Fadmin%2Fpool',
      ),
    },
    {weight: 3, arbitrary: text},
    {weight: 1, arbitrary: fc.string({minLength: 200, maxLength: 3000})},
  )
  return fc.tuple(id, fc.boolean()).map(([value, encoded]) => {
    const known = MODELS.includes(value)
    const expect: Expect = known ? {status: [200]} : {status: [200, 404]}
    return new Case(
      'model',
      encoded ? 'encoded-id' : 'raw-id',
      'GET',
      `/v1/models/${encoded ? encode(value) : value}`,
      undefined,
      false,
      expect,
    )
  })
}

// ---- the daemon under test ----

describe('fuzz: every endpoint answers any input with < 500 and a JSON error envelope', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon
  const warnings: string[] = []
  // FUZZ_STACK=1 records where each warning came from
  const onWarning = (w: Error) => warnings.push(process.env.FUZZ_STACK ? String(w.stack) : `${w.name}: ${w.message}`)

  before(async () => {
    if (process.env.FUZZ_STACK) Error.stackTraceLimit = 40
    process.on('warning', onWarning)
    fake = await FakeOpenAI.start({keys: [KEY_A, KEY_B]})
    gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: fake.baseUrl, models: MODELS}},
      tokens: [
        {label: 'fuzz-a', secret: KEY_A, upstream: 'fake'},
        {label: 'fuzz-b', secret: KEY_B, upstream: 'fake'},
      ],
      settings: {server: {bodyLimitBytes: LIMIT}},
    })
  })

  after(async () => {
    process.off('warning', onWarning)
    await gw?.stop()
    await fake?.close()
  })

  /** Send one case; the body as one buffer or (chunked) as a stream of 8 KiB pieces without Content-Length. */
  async function send(c: Case): Promise<Answer> {
    // `duplex` is required by fetch for a stream body (Node's RequestInit has it; the DOM lib's does not)
    const init: RequestInit & {duplex?: 'half'} = {method: c.method, signal: AbortSignal.timeout(10_000)}
    if (c.method === 'POST') {
      init.headers = {'content-type': 'application/json'}
      const bytes = new Uint8Array(typeof c.body === 'string' ? Buffer.from(c.body, 'utf8') : (c.body ?? []))
      if (c.chunked) {
        init.body = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.slice(i, i + 8192))
            controller.close()
          },
        })
        init.duplex = 'half'
      } else {
        init.body = bytes
      }
    }

    const res = await gw.api(c.path, init)
    return {
      status: res.status,
      contentType: res.headers.get('content-type') ?? '',
      text: await res.text(),
      requestId: res.headers.get('x-request-id'),
    }
  }

  const requestLogged = (from: number) => gw.logs.slice(from).some((line) => line.includes('"msg":"request"'))

  /** The whole property for one request. Throws with the case and the answer in the message. */
  async function check(c: Case): Promise<void> {
    const mark = gw.logs.length
    let answer: Answer
    try {
      answer = await send(c)
    } catch (error) {
      const reason =
        (error as Error).name === 'TimeoutError'
          ? 'no complete answer within 10 s (hang)'
          : `the request failed: ${String((error as Error).cause ?? error)}`
      throw new Error(`${reason}\nrequest: ${c.describe()}`, {cause: error})
    }

    function fail(why: string): never {
      throw new Error(
        `${why}\nrequest: ${c.describe()}\nanswer: HTTP ${answer.status} (${answer.contentType}) ${clip(answer.text, 1500)}`,
      )
    }

    // the access log line comes once the handler is done; any error-level line in between is a crash
    for (const started = Date.now(); !requestLogged(mark) && Date.now() - started < 2000;)
      await new Promise((resolve) => setTimeout(resolve, 2))
    if (!requestLogged(mark)) fail('the daemon never logged the request as done (is its handler still running?)')
    const errors = gw.logs.slice(mark).filter((line) => /"level":(50|60)/.test(line))
    if (errors.length > 0) fail(`the daemon logged an error:\n${errors.map((l) => clip(l, 1500)).join('\n')}`)
    if (answer.text.includes(KEY_A) || answer.text.includes(KEY_B)) fail('an upstream secret is in the answer')

    const {status} = answer
    if (status >= 500) fail('a 5xx: the daemon failed on client input')
    if (c.expect && !c.expect.status.includes(status)) fail(`expected HTTP ${c.expect.status.join(' or ')}`)

    if (status >= 400) {
      if (!/^application\/json/.test(answer.contentType)) fail('an error answer that is not application/json')
      let body: unknown
      try {
        body = JSON.parse(answer.text)
      } catch {
        fail('an error answer that is not JSON')
      }

      if (c.endpoint === 'session') {
        const envelope = body as {code?: unknown; message?: unknown; data?: unknown}
        if (typeof body !== 'object' || body === null || Object.keys(body).sort().join() !== 'code,data,message')
          fail('not a {code, message, data} envelope')
        if (envelope.code !== status) fail(`envelope code ${String(envelope.code)} is not the HTTP status`)
        if (typeof envelope.message !== 'string' || envelope.message === '')
          fail('envelope message is not a non-empty string')
        if (envelope.data !== null) fail('envelope data is not null')
      } else {
        try {
          assertSchema('ErrorResponse', body)
        } catch (error) {
          fail(`not an OpenAI error envelope: ${(error as Error).message.split('\ndata:')[0]}`)
        }

        const code = (body as {error: {code: unknown}}).error.code
        if (c.expect?.code !== undefined && code !== c.expect.code)
          fail(`expected error code ${c.expect.code}, got ${String(code)}`)
      }

      if (answer.requestId === null) fail('an error answer without x-request-id')
      return
    }

    if (status !== 200) fail('a success other than 200')
    if (/^text\/event-stream/.test(answer.contentType)) {
      let sse: ReturnType<typeof parseSseBody>
      try {
        sse = parseSseBody(answer.text)
      } catch (error) {
        return fail(`a stream that is not valid SSE: ${(error as Error).message}`)
      }

      if (!sse.done) fail('a 200 stream that does not end with [DONE]')
      const failed = sse.events.find((e) => typeof e === 'object' && e !== null && 'error' in e)
      if (failed) fail(`a 200 stream with an error event: ${JSON.stringify(failed)}`)
      return
    }

    if (!/^application\/json/.test(answer.contentType)) fail('a 200 that is neither JSON nor an event stream')
    let json: unknown
    try {
      json = JSON.parse(answer.text)
    } catch {
      fail('a 200 whose body is not JSON')
    }

    if (c.endpoint === 'session') {
      const ok = json as {code?: unknown; message?: unknown; data?: unknown}
      if (ok.code !== 200 || ok.message !== 'ok' || typeof ok.data !== 'string')
        fail('a /session 200 that is not {code: 200, message: "ok", data: "<reply>"}')
    }

    if (c.endpoint === 'model' && (json as {object?: unknown}).object === 'model') {
      try {
        assertSchema('Model', json)
      } catch (error) {
        fail((error as Error).message)
      }
    }
  }

  const run = (cases: fc.Arbitrary<Case>, numRuns: number, examples: Case[] = []) =>
    fc.assert(
      fc.asyncProperty(cases, (c) => check(c)),
      {
        numRuns: Math.max(1, Math.round(numRuns * SCALE)),
        seed: SEED,
        examples: examples.map((e) => [e]),
        interruptAfterTimeLimit: 60_000 * Math.max(1, SCALE),
        markInterruptAsFailure: true,
        includeErrorInReport: true,
      },
    )

  const example = (endpoint: PostEndpoint, kind: string, body: Json | string, expect?: Expect) =>
    new Case(
      endpoint,
      kind,
      'POST',
      PATHS[endpoint],
      typeof body === 'string' ? body : JSON.stringify(body),
      false,
      expect,
    )

  it('POST /v1/chat/completions', async () => {
    await run(postCases('chat'), 400, [
      example(
        'chat',
        'example',
        {model: 'gpt-4o-mini', messages: [{role: 'user', content: 'hi'}], stream: 'yes'},
        {status: [400], code: 'invalid_request'},
      ),
      example(
        'chat',
        'example',
        {model: 'gpt-4o-mini', messages: [{role: 'user', content: 'hi'}], stream: true, stream_options: []},
        {status: [400], code: 'invalid_request'},
      ),
      example(
        'chat',
        'example',
        {model: 42, messages: [{role: 'user', content: 'hi'}]},
        {status: [400], code: 'invalid_request'},
      ),
      example(
        'chat',
        'example',
        '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"max_tokens":1e999,"temperature":-1e999}',
      ),
    ])
  })

  it('POST /v1/completions', async () => {
    await run(postCases('completions'), 400, [
      example(
        'completions',
        'example',
        {model: 'gpt-3.5-turbo-instruct', prompt: [['a', 1], [2, [3]], null]},
        {status: [400], code: 'invalid_request'},
      ),
      example(
        'completions',
        'example',
        {model: 'gpt-3.5-turbo-instruct', prompt: [[999_999_999]]},
        {status: [400], code: 'invalid_request'},
      ),
      example(
        'completions',
        'example',
        {model: 'gpt-3.5-turbo-instruct', prompt: 'x', n: '2', logprobs: -1},
        {status: [400], code: 'invalid_request'},
      ),
      // a batch of prompts is answered by concurrent calls (one per prompt)
      example(
        'completions',
        'example',
        {model: 'gpt-3.5-turbo-instruct', prompt: Array.from({length: 16}, (_, i) => `p${i}`)},
        {status: [200]},
      ),
      example(
        'completions',
        'example',
        {model: 'gpt-3.5-turbo-instruct', prompt: Array.from({length: 16}, (_, i) => `p${i}`), stream: true},
        {status: [200]},
      ),
    ])
  })

  it('POST /v1/embeddings', async () => {
    await run(postCases('embeddings'), 300, [
      example('embeddings', 'example', {model: 'text-embedding-3-small', input: [[1, 'a'], {}]}),
      example(
        'embeddings',
        'example',
        {model: 'text-embedding-3-small', input: 'x', encoding_format: ['base64']},
        {status: [400], code: 'invalid_request'},
      ),
    ])
  })

  it('POST /v1/images/generations', async () => {
    await run(postCases('images'), 300, [
      example('images', 'example', {prompt: ['a cat'], model: 'dall-e-3'}, {status: [400], code: 'invalid_request'}),
    ])
  })

  it('POST /session', async () => {
    await run(postCases('session'), 300, [
      example('session', 'example', {sessionId: 7, content: 'hi'}, {status: [400]}),
      example('session', 'example', {sessionId: 's', content: 'hi', model: 'gpt-9'}, {status: [404]}),
    ])
  })

  it('GET /v1/dashboard/billing/usage with fuzzed dates', async () => {
    await run(billingCases(), 300)
  })

  it('GET /v1/models/<fuzzed id>', async () => {
    await run(modelCases(), 300)
  })

  it('still serves a normal chat request and /healthz after the fuzz', async () => {
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'gpt-4o-mini', messages: [{role: 'user', content: 'still alive?'}]},
      signal: AbortSignal.timeout(10_000),
    })
    const text = await res.text()
    assert.equal(res.status, 200, text)
    const body = JSON.parse(text) as {choices: Array<{message: {content: string}}>}
    assertSchema('CreateChatCompletionResponse', body)
    assert.equal(body.choices[0].message.content, 'Hello from the fake upstream: still alive?')
    const health = await fetch(`${gw.origin}/healthz`, {signal: AbortSignal.timeout(10_000)})
    assert.equal(health.status, 200, await health.text())
  })

  it('logged no error and emitted no process warning during the fuzz', () => {
    const errors = gw.logs.filter((line) => /"level":(50|60)/.test(line))
    assert.deepEqual(
      errors.map((l) => clip(l, 1000)),
      [],
      'error-level daemon log lines',
    )
    assert.deepEqual(warnings, [], 'process warnings (the daemon runs in this process)')
  })

  /** The longest the event loop (the daemon's: it runs in this process) was blocked while `fn` ran, and just after. */
  async function longestStall(fn: () => Promise<void>): Promise<number> {
    let last = performance.now()
    let longest = 0
    const timer = setInterval(() => {
      const now = performance.now()
      longest = Math.max(longest, now - last)
      last = now
    }, 10)
    try {
      await fn()
      // work done after the answer (usage estimates, session history) counts too
      await new Promise((resolve) => setTimeout(resolve, 50))
    } finally {
      clearInterval(timer)
    }

    return Math.round(longest)
  }

  it('does not stall every client while counting the tokens of a 60 KB run of one character', async () => {
    const run = 'x'.repeat(60_000)
    const cases: Array<[string, string, Body]> = [
      [
        'POST /v1/completions with max_tokens: 0 (answered locally)',
        '/v1/completions',
        {model: 'gpt-3.5-turbo-instruct', prompt: run, max_tokens: 0},
      ],
      ['POST /session, first turn', '/session', {sessionId: 'fuzz-stall', content: run}],
      ['POST /session, next turn of that session', '/session', {sessionId: 'fuzz-stall', content: 'and now?'}],
    ]
    const report: string[] = []
    let stalled = false
    for (const [name, path, json] of cases) {
      let status = 0
      const ms = await longestStall(async () => {
        const res = await gw.api(path, {method: 'POST', json, signal: AbortSignal.timeout(30_000)})
        status = res.status
        await res.text()
      })
      report.push(`${name}: HTTP ${status}, event loop blocked for ${ms} ms`)
      if (status !== 200 || ms > 1000) stalled = true
    }

    assert.ok(!stalled, `one request froze the whole daemon (every other request waits):\n${report.join('\n')}`)
  })

  it('answers an over-long request target with a JSON envelope, not a bare 431', async () => {
    const url = new URL(gw.origin)
    const answer = await new Promise<{status: number; contentType: string; text: string}>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: `/v1/dashboard/billing/usage?start_date=${'x'.repeat(20_000)}`,
          headers: {authorization: `Bearer ${gw.clientKey}`},
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              contentType: String(res.headers['content-type'] ?? ''),
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          )
        },
      )
      req.on('error', reject)
      req.end()
    })
    assert.equal(answer.status, 431, answer.text)
    assert.match(
      answer.contentType,
      /^application\/json/,
      `HTTP ${answer.status} with content-type "${answer.contentType}" and body ${JSON.stringify(answer.text)}`,
    )
    const body = JSON.parse(answer.text) as {error: {code: string}}
    assertSchema('ErrorResponse', body)
    assert.equal(body.error.code, 'request_header_too_large')
  })

  /** Raw bytes on a fresh connection; everything the daemon writes until it closes. */
  const rawExchange = (bytes: string) =>
    new Promise<string>((resolve, reject) => {
      const url = new URL(gw.origin)
      const socket = connect({host: url.hostname, port: Number(url.port)}, () => socket.end(bytes))
      const chunks: Buffer[] = []
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')))
      socket.on('data', (chunk: Buffer) => chunks.push(chunk))
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')))
      socket.on('error', reject)
    })

  for (const [name, bytes] of [
    ['garbage instead of a request line', 'NOT HTTP AT ALL\r\n\r\n'],
    ['a header line without a colon', 'GET /healthz HTTP/1.1\r\nHost: x\r\nbroken header\r\n\r\n'],
    [
      'a bad chunk size',
      'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    ],
  ] as const) {
    it(`answers ${name} with 400 and a JSON envelope`, async () => {
      const answer = await rawExchange(bytes.replace('{key}', gw.clientKey))
      const [head, text] = answer.split('\r\n\r\n')
      assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/, answer)
      assert.match(head, /\r\ncontent-type: application\/json\r\n/, answer)
      const body = JSON.parse(text) as {error: {code: string}}
      assertSchema('ErrorResponse', body)
      assert.equal(body.error.code, 'invalid_http')
    })
  }
})
