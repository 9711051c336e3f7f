import assert from 'node:assert/strict'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'

describe('gptconv config', () => {
  const home = tempHome()
  const cli = (...args: string[]) => runCli(args, {home: home.dir})
  after(() => home.cleanup())

  it('prints the config path inside GPTCONV_HOME', async () => {
    const r = await cli('config', 'path')
    assert.equal(r.code, 0)
    assert.equal(r.stdout.trim(), join(home.dir, 'config.json'))
  })

  it('sets, gets and lists settings', async () => {
    assert.equal((await cli('config', 'set', 'server.port', '9123')).stdout.trim(), 'server.port = 9123')
    assert.equal((await cli('config', 'get', 'server.port')).stdout.trim(), '9123')
    assert.deepEqual(JSON.parse((await cli('config', 'get', 'server.port', '--json')).stdout), {
      key: 'server.port',
      value: 9123,
    })
    const all = JSON.parse((await cli('config', 'list', '--json')).stdout) as Record<string, Record<string, unknown>>
    assert.deepEqual(Object.keys(all).sort(), [
      'aliases',
      'defaultModel',
      'logLevel',
      'pool',
      'responses',
      'server',
      'sessions',
    ])
    assert.equal(all.server.port, 9123)
    assert.equal(all.pool.maxAttempts, 3)
    assert.match((await cli('config', 'list')).stdout, /^pool\.queueTimeoutMs = 60000$/m)
    assert.equal((await cli('config', 'unset', 'server.port')).stdout.trim(), 'server.port = 8787 (default)')
  })

  it('refuses unknown keys and bad values with exit 2', async () => {
    const unknown = await cli('config', 'set', 'server.nope', '1')
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /Unknown setting "server\.nope"/)
    const bad = await cli('config', 'set', 'pool.maxAttempts', 'many', '--json')
    assert.equal(bad.code, 2)
    assert.equal((JSON.parse(bad.stdout) as {error: {code: string}}).error.code, 'GPTCONV_CONFIG_INVALID_VALUE')
  })
})

describe('gptconv upstreams', () => {
  const home = tempHome()
  const cli = (...args: string[]) => runCli(args, {home: home.dir, input: 'sk-upstream-test-abcdefghijklmnop0000'})
  after(() => home.cleanup())

  it('starts with the built-in openai upstream', async () => {
    const list = JSON.parse((await cli('upstreams', 'list', '--json')).stdout) as unknown[]
    assert.deepEqual(list, [{name: 'openai', protocol: 'openai', baseUrl: 'https://api.openai.com/v1', tokens: 0}])
  })

  it('adds upstreams with a model map, normalizing the base URL', async () => {
    const r = await cli(
      'upstreams',
      'add',
      'reseller',
      '--protocol',
      'openai',
      '--base-url',
      'https://api.example.com/v1/',
      '--model-map',
      'gpt-4=gpt-4o, gpt-3.5-turbo=gpt-4o-mini',
      '--json',
    )
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), {
      name: 'reseller',
      protocol: 'openai',
      baseUrl: 'https://api.example.com/v1',
      modelMap: {'gpt-4': 'gpt-4o', 'gpt-3.5-turbo': 'gpt-4o-mini'},
      tokens: 0,
    })
    const web = await cli(
      'upstreams',
      'add',
      'web',
      '--protocol',
      'chatgpt-web',
      '--base-url',
      'http://127.0.0.1:3000',
      '--auth-url',
      'http://127.0.0.1:3000/auth/refresh_token',
    )
    assert.equal(web.code, 0, web.stderr)
    assert.match(
      (await cli('upstreams', 'list')).stdout,
      /^web\s+chatgpt-web\s+http:\/\/127\.0\.0\.1:3000\s+http:\/\/127\.0\.0\.1:3000\/auth\/refresh_token\s+-\s+any\s+0$/m,
    )
  })

  it('rejects bad input with usage errors', async () => {
    for (const args of [
      ['upstreams', 'add', 'x', '--protocol', 'openai', '--base-url', 'not a url'],
      ['upstreams', 'add', 'x', '--protocol', 'openai', '--base-url', 'ftp://x'],
      ['upstreams', 'add', 'x', '--protocol', 'openai', '--base-url', 'https://user:pw@x.test'],
      ['upstreams', 'add', 'x', '--protocol', 'openai', '--base-url', 'https://x.test', '--model-map', 'a'],
      ['upstreams', 'add', 'x', '--protocol', 'grpc', '--base-url', 'https://x.test'],
    ]) {
      const r = await cli(...args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    }

    const dup = await cli('upstreams', 'add', 'web', '--protocol', 'openai', '--base-url', 'https://x.test')
    assert.equal(dup.code, 1)
    assert.match(dup.stderr, /already exists/)
  })

  it('will not remove an upstream a token still uses', async () => {
    assert.equal((await cli('tokens', 'add', 'r1', '--kind', 'api-key', '--upstream', 'reseller')).code, 0)
    const r = await cli('upstreams', 'remove', 'reseller')
    assert.equal(r.code, 1)
    assert.match(r.stderr, /used by the token r1/)
    assert.match(r.stderr, /gptconv tokens remove r1/)
    assert.equal((await cli('tokens', 'remove', 'r1')).code, 0)
    assert.deepEqual(JSON.parse((await cli('upstreams', 'remove', 'reseller', '--json')).stdout), {
      removed: ['reseller'],
    })
  })
})
