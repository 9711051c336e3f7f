import assert from 'node:assert/strict'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {after, before, describe, it} from 'node:test'

import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'
import {parseSseBody} from '../helpers/openapi.js'

/**
 * An upstream that sends two chunks and then goes silent, holding the connection open:
 * the idle timeout must end the client's stream with one in-band error, not hang it.
 */
describe('an upstream that goes quiet in the middle of a stream', () => {
  let server: Server
  let gw: TestDaemon
  const chunk = (content: string) =>
    `data: ${JSON.stringify({id: 'chatcmpl-q', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{index: 0, delta: {content}, logprobs: null, finish_reason: null}]})}\n\n`

  before(async () => {
    server = createServer((req, res) => {
      req.resume()
      res.writeHead(200, {'content-type': 'text/event-stream'})
      res.write(chunk('Hello'))
      res.write(chunk(' there'))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    gw = await startTestDaemon({
      upstreams: {quiet: {protocol: 'openai', baseUrl: `http://127.0.0.1:${port}/v1`}},
      tokens: [{label: 'q', secret: 'sk-quiet-abcdefghijklmnopqrstuvwx0000', upstream: 'quiet'}],
      settings: {pool: {idleTimeoutMs: 300}},
    })
  })
  after(async () => {
    await gw?.stop()
    server.closeAllConnections()
    server.close()
  })

  it('relays what arrived, then sends one upstream_timeout error event and ends', async () => {
    const started = Date.now()
    const res = await gw.api('/v1/chat/completions', {
      method: 'POST',
      json: {model: 'm', stream: true, messages: [{role: 'user', content: 'x'}]},
    })
    const body = parseSseBody(await res.text())
    assert.ok(Date.now() - started < 3000)
    assert.equal(body.done, false)
    assert.deepEqual(
      body.events.slice(0, 2).map((e) => (e as {choices: Array<{delta: {content: string}}>}).choices[0].delta.content),
      ['Hello', ' there'],
    )
    assert.equal((body.events[2] as {error: {code: string}}).error.code, 'upstream_timeout')
    assert.equal(body.events.length, 3)
  })
})
