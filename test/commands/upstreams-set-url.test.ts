import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'

const KEY = 'sk-seturl-key-abcdefghijklmnopqrst1111'

type Listed = Array<{label: string; state: string; reason?: string}>

describe('gptconv upstreams set-url, and tokens bound to the origin they were stored for', () => {
  const home = tempHome()
  const cli = (args: string[], input?: string) => runCli(args, {home: home.dir, input})
  let first: FakeOpenAI
  let second: FakeOpenAI

  before(async () => {
    first = await FakeOpenAI.start({keys: [KEY]})
    second = await FakeOpenAI.start()
    assert.equal((await cli(['upstreams', 'add', 'fake', '--protocol', 'openai', '--base-url', first.baseUrl])).code, 0)
    assert.equal((await cli(['tokens', 'add', 'k', '--kind', 'api-key', '--upstream', 'fake'], KEY)).code, 0)
  })
  after(async () => {
    home.cleanup()
    await first?.close()
    await second?.close()
  })

  it('refuses to point the upstream at another origin while a token is bound to the old one, naming it', async () => {
    const r = await cli(['upstreams', 'set-url', 'fake', second.baseUrl])
    assert.equal(r.code, 1)
    assert.match(
      r.stderr,
      new RegExp(
        `Upstream "fake" has a token bound to another origin than ${second.origin}: "k" \\(stored for ${first.origin}\\)\\. Their secrets are not sent there unless you say so\\.`,
      ),
    )
    assert.match(r.stderr, /--move-tokens/)
    const config = JSON.parse(readFileSync(join(home.dir, 'config.json'), 'utf8')) as {
      upstreams: {fake: {baseUrl: string}}
    }
    assert.equal(config.upstreams.fake.baseUrl, first.baseUrl)
  })

  it('takes a new path on the same origin without a flag', async () => {
    const r = await cli(['upstreams', 'set-url', 'fake', `${first.origin}/v1/`, '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual((JSON.parse(r.stdout) as {moved: string[]}).moved, [])
  })

  it('`upstreams add --force` with another base URL warns, and the token is blocked: listed so, and never sent there by `tokens refresh`', async () => {
    const r = await cli(['upstreams', 'add', 'fake', '--protocol', 'openai', '--base-url', second.baseUrl, '--force'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, new RegExp(`Warning: Token "k" \\(stored for ${first.origin}\\) of "fake" is blocked now`))
    const listed = JSON.parse((await cli(['tokens', 'list', '--json'])).stdout) as Listed
    assert.deepEqual(
      listed.map((t) => [t.label, t.state]),
      [['k', 'blocked']],
    )
    assert.match(
      listed[0].reason!,
      new RegExp(`now points to ${second.origin}, but the secret was stored for ${first.origin}`),
    )
    const text = (await cli(['tokens', 'list'])).stdout
    assert.match(text, /blocked: its upstream "fake" now points to/)
    const check = await cli(['tokens', 'refresh', 'k', '--json'])
    assert.equal(check.code, 1)
    assert.deepEqual(
      (JSON.parse(check.stdout) as Array<{status: string}>).map((c) => c.status),
      ['blocked'],
    )
    assert.deepEqual(
      second.requests.filter((q) => q.key === KEY),
      [],
    )
  })

  it('`set-url --move-tokens` binds the tokens to the new origin', async () => {
    const r = await cli(['upstreams', 'set-url', 'fake', second.baseUrl, '--move-tokens'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), `Upstream "fake" → ${second.baseUrl}; tokens moved there: k`)
    const listed = JSON.parse((await cli(['tokens', 'list', '--json'])).stdout) as Listed
    assert.deepEqual(
      listed.map((t) => [t.label, t.state]),
      [['k', 'ok']],
    )
  })

  it('an entry written before bindings existed is bound to the old origin when `upstreams add --force` changes it', async () => {
    const path = join(home.dir, 'config.json')
    const config = JSON.parse(readFileSync(path, 'utf8')) as {tokens: Record<string, Record<string, unknown>>}
    delete config.tokens.k.origin
    writeFileSync(path, JSON.stringify(config))
    assert.equal(
      (await cli(['upstreams', 'add', 'fake', '--protocol', 'openai', '--base-url', first.baseUrl, '--force'])).code,
      0,
    )
    const after = JSON.parse(readFileSync(path, 'utf8')) as {tokens: Record<string, {origin?: string}>}
    assert.equal(after.tokens.k.origin, second.origin)
    const listed = JSON.parse((await cli(['tokens', 'list', '--json'])).stdout) as Listed
    assert.deepEqual(
      listed.map((t) => [t.label, t.state]),
      [['k', 'blocked']],
    )
  })
})
