import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {ApiError} from '../../src/daemon/errors.js'
import {Router} from '../../src/daemon/router.js'
import {SseParser, type SseEvent} from '../../src/daemon/sse.js'
import {checkHost, checkOrigin, hostName} from '../../src/daemon/security.js'

async function parse(chunks: Array<string | Buffer>, max?: number): Promise<SseEvent[]> {
  const parser = new SseParser(max)
  const events: SseEvent[] = []
  for (const c of chunks) events.push(...parser.push(typeof c === 'string' ? Buffer.from(c) : c))
  return [...events, ...parser.end()]
}

describe('SseParser', () => {
  it('parses events split anywhere, with LF, CRLF or CR line ends', async () => {
    const text =
      'data: {"a":1}\n\ndata: {"b":\r\ndata: 2}\r\n\r\n: keep-alive\n\nevent: error\ndata: x\r\rdata: [DONE]\n\n'
    const whole = await parse([text])
    assert.deepEqual(whole, [{data: '{"a":1}'}, {data: '{"b":\n2}'}, {event: 'error', data: 'x'}, {data: '[DONE]'}])
    const bytewise = await parse([...Buffer.from(text)].map((b) => Buffer.from([b])))
    assert.deepEqual(bytewise, whole)
  })

  it('keeps multi-byte characters split across chunks intact', async () => {
    const bytes = Buffer.from('data: 你好【0†source】\n\n')
    assert.deepEqual(await parse([bytes.subarray(0, 8), bytes.subarray(8, 9), bytes.subarray(9)]), [
      {data: '你好【0†source】'},
    ])
  })

  it('returns the events each input chunk completed', () => {
    const parser = new SseParser()
    assert.deepEqual(parser.push(Buffer.from('data: a\n\ndata: b\n\ndata: c')), [{data: 'a'}, {data: 'b'}])
    assert.deepEqual(parser.push(Buffer.from('\n\n')), [{data: 'c'}])
    assert.deepEqual(parser.end(), [])
  })

  it('dispatches a last event without a blank line at the end', async () => {
    assert.deepEqual(await parse(['data: last']), [{data: 'last'}])
  })

  it('fails on an event larger than its limit', async () => {
    await assert.rejects(parse(['data: ' + 'x'.repeat(200) + '\n'], 100), /exceeded 100 bytes/)
    await assert.rejects(parse(['data: ' + 'x'.repeat(60) + '\n', 'data: ' + 'x'.repeat(60) + '\n'], 100), /exceeded/)
  })
})

describe('Router', () => {
  const noop = async () => {}
  const router = new Router([
    {name: 'chat', method: 'POST', pattern: '/v1/chat/completions', auth: true, handler: noop},
    {name: 'model', method: 'GET', pattern: '/v1/models/*id', auth: true, handler: noop},
  ])

  it('matches with or without a trailing slash, and model ids with slashes', () => {
    assert.equal(router.match('POST', '/v1/chat/completions/').route.name, 'chat')
    assert.deepEqual(router.match('GET', '/v1/models/meta-llama/Llama-3-8B').params, {id: 'meta-llama/Llama-3-8B'})
    assert.deepEqual(router.match('GET', '/v1/models/gpt%2D4o').params, {id: 'gpt-4o'})
  })

  it('answers 405 with Allow for a known path, 404 otherwise', () => {
    assert.throws(
      () => router.match('GET', '/v1/chat/completions'),
      (e: unknown) => e instanceof ApiError && e.status === 405 && e.headers.allow === 'POST',
    )
    assert.throws(
      () => router.match('POST', '/v2/chat'),
      (e: unknown) => e instanceof ApiError && e.status === 404 && e.code === 'unknown_url',
    )
  })
})

describe('Host and Origin checks', () => {
  const req = (headers: Record<string, string>) => ({headers}) as never

  it('reads host names out of Host headers', () => {
    assert.equal(hostName('LOCALHOST:8787'), 'localhost')
    assert.equal(hostName('[::1]:8787'), '::1')
    assert.equal(hostName('example.com'), 'example.com')
  })

  it('accepts loopback names, IP literals and configured hosts; refuses the rest', () => {
    for (const host of ['127.0.0.1:8787', 'localhost:8787', 'app.localhost', '[::1]:1', '10.0.0.5:8787'])
      checkHost(req({host}), [])
    checkHost(req({host: 'gw.internal:8787'}), ['gw.internal'])
    assert.throws(
      () => checkHost(req({host: 'evil.example:8787'}), []),
      (e: unknown) => e instanceof ApiError && e.status === 403 && e.code === 'host_not_allowed',
    )
  })

  it('accepts requests without Origin and configured origins; refuses foreign ones', () => {
    assert.equal(checkOrigin(req({}), []), undefined)
    assert.equal(
      checkOrigin(req({origin: 'http://localhost:3000'}), ['http://localhost:3000/']),
      'http://localhost:3000',
    )
    assert.throws(
      () => checkOrigin(req({origin: 'https://evil.example'}), ['http://localhost:3000']),
      (e: unknown) => e instanceof ApiError && e.code === 'origin_not_allowed',
    )
    assert.throws(() => checkOrigin(req({origin: 'null'}), []), ApiError)
  })
})
