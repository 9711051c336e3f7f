import assert from 'node:assert/strict'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {after, before, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'

const GOOD = 'sk-refresh-good-abcdefghijklmnopq1111'
const BAD = 'sk-refresh-bad-abcdefghijklmnopqr2222'
const DEAD = 'sk-refresh-dead-abcdefghijklmnopq3333'

describe('gptconv tokens refresh', () => {
  const home = tempHome()
  let server: Server
  let base = ''
  const seen: string[] = []
  const cli = (args: string[], input?: string) => runCli(args, {home: home.dir, input})

  before(async () => {
    // A loopback upstream that knows one key, and echoes the presented key in its 401
    // (as some servers do) to prove gptconv redacts it.
    server = createServer((req, res) => {
      const key = (req.headers.authorization ?? '').replace(/^Bearer /, '')
      seen.push(`${req.method} ${req.url}`)
      res.setHeader('content-type', 'application/json')
      if (key === GOOD)
        res.end(JSON.stringify({object: 'list', data: [{id: 'gpt-4o', object: 'model', created: 1, owned_by: 'x'}]}))
      else
        res.writeHead(401).end(
          JSON.stringify({
            error: {
              message: `Incorrect API key provided: ${key}.`,
              type: 'invalid_request_error',
              param: null,
              code: 'invalid_api_key',
            },
          }),
        )
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
    await cli(['upstreams', 'add', 'fake', '--protocol', 'openai', '--base-url', base])
    await cli(['tokens', 'add', 'good', '--kind', 'api-key', '--upstream', 'fake'], GOOD)
    await cli(['tokens', 'add', 'bad', '--kind', 'api-key', '--upstream', 'fake'], BAD)
  })
  after(() => {
    server.close()
    home.cleanup()
  })

  it('validates a good key with GET /models', async () => {
    const r = await cli(['tokens', 'refresh', 'good'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /✔ good \(api-key\): valid — 1 model available/)
    assert.ok(seen.includes('GET /v1/models'))
  })

  it('reports a refused key, exits 1 and never prints the key', async () => {
    const r = await cli(['tokens', 'refresh'])
    assert.equal(r.code, 1)
    assert.match(r.stdout, /✖ bad \(api-key\): invalid — HTTP 401: Incorrect API key provided: sk-…2222\./)
    assert.match(r.stderr, /1 of 2 tokens failed: bad/)
    assert.ok(!r.stdout.includes(BAD) && !r.stderr.includes(BAD))
  })

  it('prints JSON results and still exits 1', async () => {
    const r = await cli(['tokens', 'refresh', '--json'])
    assert.equal(r.code, 1)
    const results = JSON.parse(r.stdout) as Array<{label: string; ok: boolean; status: string}>
    assert.deepEqual(
      results.map((x) => [x.label, x.ok, x.status]),
      [
        ['bad', false, 'invalid'],
        ['good', true, 'valid'],
      ],
    )
    assert.ok(!r.stdout.includes(BAD))
  })

  it('says when the upstream cannot be reached', async () => {
    await cli(['upstreams', 'add', 'dead', '--protocol', 'openai', '--base-url', 'http://127.0.0.1:9/v1'])
    await cli(['tokens', 'add', 'dead', '--kind', 'api-key', '--upstream', 'dead'], DEAD)
    const r = await cli(['tokens', 'refresh', 'dead', '--json'])
    assert.equal(r.code, 1)
    assert.deepEqual(
      (JSON.parse(r.stdout) as Array<{status: string; detail: string}>).map((x) => [x.status, x.detail]),
      [['unreachable', 'connection refused']],
    )
  })
})
