import assert from 'node:assert/strict'
import {request} from 'node:http'
import {after, before, describe, it} from 'node:test'

import {readLedger} from '../../src/core/ledger.js'
import {usageReport} from '../../src/core/usage.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'

const KEY = 'sk-hardening-key-abcdefghijklmnop6666'

/** POST a body of `size` bytes in 64 KiB writes, as a client that sends it all before reading. */
function postBig(
  url: URL,
  key: string,
  size: number,
  chunked = false,
): Promise<{status?: number; connection?: string; body: string; error?: string}> {
  return new Promise((resolve) => {
    let settled = false
    const done = (result: {status?: number; connection?: string; body: string; error?: string}) => {
      if (!settled) resolve(result)
      settled = true
    }

    const headers: Record<string, string> = {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      ...(!chunked && {'content-length': String(size)}),
    }
    const req = request(url, {method: 'POST', headers}, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => done({status: res.statusCode, connection: res.headers.connection, body}))
      res.on('error', (error) => done({status: res.statusCode, body, error: (error as NodeJS.ErrnoException).code}))
    })
    req.on('error', (error) => done({body: '', error: (error as NodeJS.ErrnoException).code ?? error.message}))
    const chunk = Buffer.alloc(64 * 1024, 'a')
    let sent = 0
    const pump = () => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent)
        sent += n
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once('drain', pump)
          return
        }
      }

      req.end()
    }

    pump()
  })
}

describe('hardening', () => {
  let fake: FakeOpenAI
  let gw: TestDaemon

  before(async () => {
    fake = await FakeOpenAI.start({keys: [KEY]})
    gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: fake.baseUrl}},
      tokens: [{label: 'k', secret: KEY, upstream: 'fake'}],
    })
  })
  after(async () => {
    await gw?.stop()
    await fake?.close()
  })

  it('one key and three 502s: the next request is tried at once, not after a failure cooldown', async () => {
    const chat = () =>
      gw.api('/v1/chat/completions', {
        method: 'POST',
        json: {model: 'gpt-4o-mini', messages: [{role: 'user', content: 'hi'}]},
      })
    fake.fault('*', {type: 'status', status: 502}, 3)
    const failed = await chat()
    assert.equal(failed.status, 502)
    await failed.body?.cancel()
    const started = Date.now()
    const next = await chat()
    assert.equal(next.status, 200)
    await next.json()
    assert.ok(Date.now() - started < 5000, `the next request waited ${Date.now() - started} ms`)
  })

  it('models named constructor, toString or __proto__ reach the upstream as named, and the ledger, usage and billing stay sound', async () => {
    for (const model of ['constructor', 'toString', '__proto__']) {
      const res = await gw.api('/v1/chat/completions', {
        method: 'POST',
        json: {model, messages: [{role: 'user', content: 'hi'}]},
      })
      assert.equal(res.status, 200, model)
      assert.equal(((await res.json()) as {model: string}).model, model)
      assert.equal((fake.requests.at(-1)!.body as {model: string}).model, model)
    }

    await new Promise((resolve) => setTimeout(resolve, 50))
    const records = await readLedger(gw.ctx.paths.ledger)
    assert.deepEqual(
      records.slice(-3).map((r) => r.model),
      ['constructor', 'toString', '__proto__'],
    )
    const usage = await usageReport(gw.ctx, {since: new Date(0), by: 'model'})
    assert.ok(usage.rows.some((r) => r.key === '__proto__'))
    const today = new Date().toISOString().slice(0, 10)
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
    assert.equal((await gw.api(`/dashboard/billing/usage?start_date=${today}&end_date=${tomorrow}`)).status, 200)
  })

  for (const chunked of [false, true]) {
    it(`a 20 MB body (${chunked ? 'chunked' : 'with its length'}) gets a 413 that closes the connection, read by a client still writing, not a reset`, async () => {
      const result = await postBig(new URL(`${gw.url}/chat/completions`), gw.clientKey, 20 * 1024 * 1024, chunked)
      assert.equal(result.error, undefined, `the client saw ${result.error}`)
      assert.equal(result.status, 413)
      assert.equal(result.connection, 'close')
      assert.equal((JSON.parse(result.body) as {error: {code: string}}).error.code, 'request_too_large')
    })
  }
})
