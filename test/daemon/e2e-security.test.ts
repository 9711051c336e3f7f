import assert from 'node:assert/strict'
import {request} from 'node:http'
import {after, before, describe, it} from 'node:test'

import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'
import {assertSchema} from '../helpers/openapi.js'

const KEY = 'sk-security-key-abcdefghijklmnopqr9999'

/** A raw HTTP request (fetch cannot set Host). */
function raw(
  origin: string,
  options: {method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer},
): Promise<{status: number; headers: Record<string, string | string[] | undefined>; text: string}> {
  const url = new URL(origin)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8')}),
        )
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

describe('daemon security defaults and bad input', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon
  const seen: string[] = []
  const call = async (options: Parameters<typeof raw>[1]) => {
    const r = await raw(gw.origin, options)
    seen.push(r.text, JSON.stringify(r.headers))
    return r
  }

  const expectError = (r: {status: number; text: string}, status: number, code: string, param?: string) => {
    assert.equal(r.status, status, r.text)
    const body = JSON.parse(r.text) as {error: {code: string; param: string | null}}
    assertSchema('ErrorResponse', body)
    assert.equal(body.error.code, code)
    if (param !== undefined) assert.equal(body.error.param, param)
  }

  before(async () => {
    fake = await FakeOpenAI.start({keys: [KEY]})
    gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: fake.baseUrl, models: ['gpt-4o-mini']}},
      tokens: [{label: 'k', secret: KEY, upstream: 'fake'}],
      settings: {
        server: {bodyLimitBytes: 4096, allowedOrigins: ['http://localhost:3000'], allowedHosts: ['gw.internal']},
      },
    })
  })
  after(async () => {
    for (const text of [...seen, ...gw.logs])
      assert.ok(!text.includes(KEY), 'an upstream secret leaked into a response or log line')
    assert.ok(!gw.logs.some((l) => l.includes(gw.clientKey)), 'the client key is never logged')
    await gw?.stop()
    await fake?.close()
  })

  const auth = () => ({authorization: `Bearer ${gw.clientKey}`, 'content-type': 'application/json'})
  const chat = JSON.stringify({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'hi'}]})

  it('requires the client key on every API route and /admin, not on /healthz and /metrics', async () => {
    expectError(await call({path: '/v1/models'}), 401, 'missing_api_key')
    expectError(await call({path: '/v1/models', headers: {authorization: 'Bearer sk-wrong'}}), 401, 'invalid_api_key')
    expectError(
      await call({method: 'POST', path: '/v1/chat/completions', headers: {authorization: `Bearer ${KEY}`}, body: chat}),
      401,
      'invalid_api_key',
    )
    expectError(await call({path: '/admin/pool'}), 401, 'missing_api_key')
    assert.equal((await call({path: '/healthz'})).status, 200)
    assert.equal((await call({path: '/metrics'})).status, 200)
    assert.equal((await call({path: '/v1/models', headers: auth()})).status, 200)
  })

  it('refuses a foreign Host (DNS rebinding), accepts loopback names and configured hosts', async () => {
    expectError(
      await call({path: '/v1/models', headers: {...auth(), host: 'evil.example:8787'}}),
      403,
      'host_not_allowed',
    )
    expectError(await call({path: '/healthz', headers: {host: 'evil.example'}}), 403, 'host_not_allowed')
    for (const host of ['localhost', '127.0.0.1:1', 'gw.internal:8787'])
      assert.equal((await call({path: '/v1/models', headers: {...auth(), host}})).status, 200, host)
  })

  it('refuses a foreign browser Origin; answers CORS for a configured one', async () => {
    expectError(
      await call({path: '/v1/models', headers: {...auth(), origin: 'https://evil.example'}}),
      403,
      'origin_not_allowed',
    )
    const ok = await call({path: '/v1/models', headers: {...auth(), origin: 'http://localhost:3000'}})
    assert.equal(ok.status, 200)
    assert.equal(ok.headers['access-control-allow-origin'], 'http://localhost:3000')
    assert.match(String(ok.headers['access-control-expose-headers']), /x-request-id/)
  })

  it('answers CORS preflight only for configured origins', async () => {
    const preflight = await call({
      method: 'OPTIONS',
      path: '/v1/chat/completions',
      headers: {
        origin: 'http://localhost:3000',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    })
    assert.equal(preflight.status, 204)
    assert.equal(preflight.headers['access-control-allow-origin'], 'http://localhost:3000')
    assert.equal(preflight.headers['access-control-allow-headers'], 'authorization, content-type')
    expectError(
      await call({
        method: 'OPTIONS',
        path: '/v1/chat/completions',
        headers: {origin: 'https://evil.example', 'access-control-request-method': 'POST'},
      }),
      403,
      'origin_not_allowed',
    )
  })

  it('rejects bad bodies with 4xx envelopes and never calls the upstream', async () => {
    const before = fake.requests.length
    expectError(
      await call({method: 'POST', path: '/v1/chat/completions', headers: auth(), body: '{"model": '}),
      400,
      'invalid_json',
    )
    expectError(
      await call({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: auth(),
        body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
      }),
      400,
      'invalid_json',
    )
    expectError(
      await call({method: 'POST', path: '/v1/chat/completions', headers: auth(), body: ''}),
      400,
      'invalid_json',
    )
    expectError(
      await call({method: 'POST', path: '/v1/chat/completions', headers: auth(), body: '[1,2]'}),
      400,
      'invalid_request',
    )
    expectError(
      await call({method: 'POST', path: '/v1/chat/completions', headers: auth(), body: '{"messages": []}'}),
      400,
      'invalid_request',
      'model',
    )
    expectError(
      await call({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: auth(),
        body: '{"model": "gpt-4o-mini", "messages": "hi"}',
      }),
      400,
      'invalid_request',
      'messages',
    )
    expectError(
      await call({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: auth(),
        body: JSON.stringify({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'x'.repeat(5000)}]}),
      }),
      413,
      'request_too_large',
    )
    expectError(
      await call({method: 'POST', path: '/v1/embeddings', headers: auth(), body: '{"model": "gpt-4o-mini"}'}),
      400,
      'invalid_request',
      'input',
    )
    expectError(
      await call({method: 'POST', path: '/v1/images/generations', headers: auth(), body: '{"n": 1}'}),
      400,
      'invalid_request',
      'prompt',
    )
    assert.equal(fake.requests.length, before)
  })

  it('answers unknown models 404, unknown routes 404 and wrong methods 405', async () => {
    expectError(
      await call({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: auth(),
        body: JSON.stringify({model: 'gpt-9', messages: [{role: 'user', content: 'x'}]}),
      }),
      404,
      'model_not_found',
      'model',
    )
    expectError(await call({path: '/v1/nothing-here', headers: auth()}), 404, 'unknown_url')
    const wrong = await call({path: '/v1/chat/completions', headers: auth()})
    expectError(wrong, 405, 'method_not_allowed')
    assert.equal(wrong.headers.allow, 'POST')
  })

  it('a wrong or missing key is a 401 on any path, known or not: nothing about the routes leaks without it', async () => {
    for (const path of ['/v1/nothing-here', '/v1/chat/completions', '/admin/secret-thing', '/anything']) {
      expectError(await call({path, headers: {authorization: 'Bearer sk-wrong'}}), 401, 'invalid_api_key')
      expectError(await call({path}), 401, 'missing_api_key')
    }

    assert.equal((await call({path: '/healthz'})).status, 200, 'the open routes stay open')
  })

  it('sends a request id on every answer, its own when the upstream sends none', async () => {
    const r = await call({path: '/v1/nothing', headers: auth()})
    assert.match(String(r.headers['x-request-id']), /^req_[0-9a-f]{24}$/)
  })
})
