import assert from 'node:assert/strict'
import {request} from 'node:http'
import {after, before, describe, it} from 'node:test'

import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'
import {assertSchema} from '../helpers/openapi.js'

const KEY = 'sk-Leaky-Key-ABCDefghIJKLmnopQRST7777'

/** Every form of KEY an upstream might echo: cases, and base64 at each of the three alignments. */
const FORMS = {
  lower: KEY.toLowerCase(),
  upper: KEY.toUpperCase(),
  base64: Buffer.from(KEY).toString('base64'),
  base64url: Buffer.from(KEY).toString('base64url'),
  // `Basic base64(user:KEY)`: the key starts at an offset that is not a multiple of three
  basic: Buffer.from(`alice:${KEY}`).toString('base64'),
  basicShifted: Buffer.from(`bob:${KEY}`).toString('base64'),
}

/** What a form looks like once masked, or any long piece of it: 16 characters of any form is a leak. */
function leaks(text: string): string[] {
  const found: string[] = []
  const pieces = (s: string) => Array.from({length: Math.max(0, s.length - 15)}, (_, i) => s.slice(i, i + 16))
  for (const [name, form] of Object.entries({raw: KEY, ...FORMS})) {
    // the base64 of `alice:` and `bob:` differ from the key's own in their first characters only
    const core = name === 'basic' || name === 'basicShifted' ? form.slice(12, -4) : form
    if (pieces(core).some((p) => text.includes(p))) found.push(name)
  }

  return found
}

function rawPost(origin: string, key: string, body: string): Promise<{status: number; text: string}> {
  const url = new URL('/v1/chat/completions', origin)
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {method: 'POST', headers: {authorization: `Bearer ${key}`, 'content-type': 'application/json'}},
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8')}))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

describe('hardening 2: secrets in every form are scrubbed; duplicate keys are refused', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon
  const echo = `Incorrect key ${FORMS.lower} (as sent: ${FORMS.upper}); basic ${FORMS.basic} / ${FORMS.basicShifted}; header ${FORMS.base64}; url ${FORMS.base64url}`

  before(async () => {
    fake = await FakeOpenAI.start({keys: [KEY]})
    gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: fake.baseUrl}},
      tokens: [{label: 'k', secret: KEY, upstream: 'fake', models: ['gpt-4o-mini']}],
    })
  })
  after(async () => {
    await gw?.stop()
    await fake?.close()
  })

  const chat = {model: 'gpt-4o-mini', messages: [{role: 'user', content: 'hi'}]}

  it('an upstream 400 that echoes the key lowercased, uppercased and base64-encoded reaches the client and the log without it', async () => {
    fake.fault('*', {
      type: 'status',
      status: 400,
      body: {error: {message: echo, type: 'invalid_request_error', param: FORMS.lower, code: FORMS.base64}},
    })
    const res = await gw.api('/v1/chat/completions', {method: 'POST', json: chat})
    const text = await res.text()
    assert.equal(res.status, 400)
    assertSchema('ErrorResponse', JSON.parse(text))
    assert.deepEqual(leaks(text), [])
    assert.deepEqual(leaks(gw.logs.join('\n')), [])
    assert.match(text, /Incorrect key sk-…7777 \(as sent: sk-…7777\)/)
  })

  it('an upstream 500 that echoes the key in every form is retried, and neither the 502 nor the log lines carry it', async () => {
    fake.fault('*', {type: 'status', status: 500, body: {error: {message: echo, type: 'server_error'}}}, 3)
    const res = await gw.api('/v1/chat/completions', {method: 'POST', json: chat})
    const text = await res.text()
    assert.equal(res.status, 502)
    assert.deepEqual(leaks(text), [])
    const attempts = gw.logs.filter((l) => l.includes('attempt '))
    assert.equal(attempts.length, 3)
    assert.deepEqual(leaks(gw.logs.join('\n')), [])
  })

  it('a body with the key `model` twice (a forbidden model first, an allowed one last) is a 400 naming the key, and never reaches the upstream', async () => {
    const before = fake.requests.length
    const r = await rawPost(
      gw.origin,
      gw.clientKey,
      '{"model":"gpt-4o","model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
    )
    assert.equal(r.status, 400, r.text)
    const body = JSON.parse(r.text) as {error: {code: string; param: string | null; message: string}}
    assertSchema('ErrorResponse', body)
    assert.deepEqual([body.error.code, body.error.param], ['duplicate_key', 'model'])
    assert.equal(body.error.message, 'The request body has the key "model" more than once; send each key once.')
    assert.equal(fake.requests.length, before)
  })

  it('a duplicate spelled with an escape (`mo\\u0064el`) is the same key, and is refused too', async () => {
    const r = await rawPost(
      gw.origin,
      gw.clientKey,
      '{"model":"gpt-4o","mo\\u0064el":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
    )
    assert.equal(r.status, 400, r.text)
    assert.equal((JSON.parse(r.text) as {error: {param: string}}).error.param, 'model')
  })

  it('the same key in nested objects, and key-like text inside strings, are fine', async () => {
    const r = await rawPost(
      gw.origin,
      gw.clientKey,
      '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"{\\"model\\":1,\\"model\\":2}"},{"role":"assistant","content":"ok"},{"role":"user","content":"again"}],"metadata":{"a":"1"}}',
    )
    assert.equal(r.status, 200, r.text)
  })
})
