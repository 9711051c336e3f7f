import assert from 'node:assert/strict'
import {readFileSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {execFile} from 'node:child_process'
import {after, before, describe, it} from 'node:test'

import {ROOT, runCli, tempHome} from '../helpers/cli.js'
import {accessToken} from '../helpers/jwt.js'

const KEY = 'sk-cli-test-abcdefghijklmnopqrstuv0042'

/** Every file under dir, recursively, with its content. */
function filesUnder(dir: string): Array<{path: string; text: string}> {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [{path, text: readFileSync(path, 'utf8')}]
  })
}

describe('gptconv tokens (file store)', () => {
  const home = tempHome()
  const cli = (args: string[], options: {input?: string; env?: Record<string, string | undefined>} = {}) =>
    runCli(args, {home: home.dir, ...options})
  after(() => home.cleanup())

  it('adds a key piped on stdin and warns that it went to a plain file', async () => {
    const r = await cli(['tokens', 'add', 'work', '--kind', 'api-key'], {input: `${KEY}\n`})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'Stored api-key "work" (sk-…0042) in the secrets file, upstream openai.')
    assert.match(r.stderr, /Warning: Secret written to the plain file .*secrets\.json \(mode 0600\)/)
    assert.ok(!r.stdout.includes(KEY) && !r.stderr.includes(KEY))
    assert.equal(statSync(join(home.dir, 'secrets.json')).mode & 0o777, 0o600)
  })

  it('lists tokens as JSON with the masked secret only', async () => {
    const r = await cli(['tokens', 'list', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>
    assert.equal(list.length, 1)
    assert.deepEqual(
      {
        label: list[0].label,
        kind: list[0].kind,
        upstream: list[0].upstream,
        state: list[0].state,
        expiresAt: list[0].expiresAt,
        lastUsedAt: list[0].lastUsedAt,
        secret: list[0].secret,
      },
      {
        label: 'work',
        kind: 'api-key',
        upstream: 'openai',
        state: 'ok',
        expiresAt: null,
        lastUsedAt: null,
        secret: 'sk-…0042',
      },
    )
    assert.ok(!r.stdout.includes(KEY))
  })

  it('shows a table with the masked secret and where it is stored', async () => {
    const r = await cli(['tokens', 'list'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^LABEL\s+KIND\s+UPSTREAM\s+STATE\s+EXPIRES\s+LAST USED\s+SECRET$/m)
    assert.match(r.stdout, /^work\s+api-key\s+openai\s+ok\s+-\s+-\s+sk-…0042$/m)
    assert.match(r.stdout, /In the plain secrets file, not the OS keychain: work/)
  })

  it('reads a secret from --from-env and decodes access tokens', async () => {
    assert.equal(
      (await cli(['upstreams', 'add', 'web', '--protocol', 'chatgpt-web', '--base-url', 'http://127.0.0.1:9'])).code,
      0,
    )
    const token = accessToken({email: 'bob@example.com'})
    const r = await cli(['tokens', 'add', 'bob', '--kind', 'access-token', '--from-env', 'BOB_TOKEN', '--json'], {
      env: {BOB_TOKEN: token},
    })
    assert.equal(r.code, 0, r.stderr)
    const view = JSON.parse(r.stdout) as {account: string; upstream: string; expiresAt: string; secret: string}
    assert.equal(view.account, 'bob@example.com')
    assert.equal(view.upstream, 'web')
    assert.ok(Date.parse(view.expiresAt) > Date.now())
    assert.equal(view.secret, `eyJ…${token.slice(-4)}`)
  })

  it('never accepts a secret as a flag or argument', async () => {
    for (const args of [
      ['tokens', 'add', 'x', '--kind', 'api-key', '--token', KEY],
      ['tokens', 'add', 'x', '--kind', 'api-key', '--secret', KEY],
      ['tokens', 'add', 'x', KEY, '--kind', 'api-key'],
    ]) {
      const r = await cli(args, {input: KEY})
      assert.equal(r.code, 2, `${args.join(' ')} → ${r.stderr}`)
    }

    const list = JSON.parse((await cli(['tokens', 'list', '--json'])).stdout) as unknown[]
    assert.equal(list.length, 2, 'nothing was added')
  })

  it('exits 2 on usage errors and 1 on failures, with and without --json', async () => {
    assert.equal((await cli(['tokens', 'add', 'x', '--kind', 'nope'])).code, 2)
    assert.equal((await cli(['tokens', 'add', 'x'])).code, 2)
    const bad = await cli(['tokens', 'add', 'x', '--kind', 'api-key', '--json'], {input: 'two words'})
    assert.equal(bad.code, 1)
    assert.deepEqual(JSON.parse(bad.stdout), {
      error: {
        message: 'The secret contains whitespace or a line break; a token is one word.',
        code: 'GPTCONV_INVALID_SECRET',
        hint: 'Pass exactly one secret, e.g. printf %s "$KEY" | gptconv tokens add …',
        exit: 1,
      },
    })
    const parse = await cli(['tokens', 'list', '--bogus', '--json'])
    assert.equal(parse.code, 2)
    assert.equal((JSON.parse(parse.stdout) as {error: {exit: number}}).error.exit, 2)
    const dup = await cli(['tokens', 'add', 'work', '--kind', 'api-key'], {input: KEY})
    assert.equal(dup.code, 1)
    assert.match(dup.stderr, /Error: A token labelled "work" already exists\./)
    assert.match(dup.stderr, /Try this: Pass --force to replace it/)
    assert.doesNotMatch(dup.stderr, /at .*\.js:\d+/, 'no stack trace')
    const empty = await cli(['tokens', 'add', 'y', '--kind', 'api-key'], {input: ''})
    assert.equal(empty.code, 1)
    assert.match(empty.stderr, /The secret is empty/)
    const env = await cli(['tokens', 'add', 'y', '--kind', 'api-key', '--from-env', 'NOT_SET_ANYWHERE'])
    assert.equal(env.code, 2)
    assert.match(env.stderr, /NOT_SET_ANYWHERE is not set/)
  })

  it('removes tokens, secret included, and no file under the state directory keeps it', async () => {
    const r = await cli(['tokens', 'remove', 'work', 'bob', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), {removed: ['work', 'bob']})
    for (const file of filesUnder(home.dir)) assert.ok(!file.text.includes(KEY), `${file.path} still holds the secret`)
    const again = await cli(['tokens', 'remove', 'work'])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /No token labelled "work"/)
  })
})

describe('gptconv with a corrupted config file', () => {
  const home = tempHome()
  after(() => home.cleanup())
  before(async () => {
    const {writeFileSync} = await import('node:fs')
    writeFileSync(join(home.dir, 'config.json'), '{"tokens": {oops}')
  })

  it('names the file, keeps a copy, prints no stack trace and writes nothing', async () => {
    for (const args of [
      ['tokens', 'list'],
      ['tokens', 'add', 'w', '--kind', 'api-key'],
      ['config', 'set', 'server.port', '1'],
    ]) {
      const r = await runCli(args, {home: home.dir, input: KEY})
      assert.equal(r.code, 1, args.join(' '))
      assert.match(r.stderr, new RegExp(`The config file ${join(home.dir, 'config.json')} is not valid JSON`))
      assert.match(r.stderr, /A copy is kept at .*config\.json\.corrupt/)
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/)
    }

    assert.equal(readFileSync(join(home.dir, 'config.json'), 'utf8'), '{"tokens": {oops}')
    assert.ok(!filesUnder(home.dir).some((f) => f.text.includes(KEY)), 'the secret was not stored')
  })
})

describe('gptconv tokens add refuses the local client key and secrets stored under another label', () => {
  const home = tempHome()
  const cli = (args: string[], input?: string) => runCli(args, {home: home.dir, input})
  after(() => home.cleanup())
  const CLIENT_KEY_ERROR = [
    "Error: This is gptconv's own local client key (what `gptconv env` puts in OPENAI_API_KEY), not a key for an upstream.",
    'Code: GPTCONV_INVALID_SECRET',
    'Try this: Add the key your provider gave you. After `eval "$(gptconv env)"`, OPENAI_API_KEY holds the local key: pipe the real one from where you keep it, e.g. printf %s "$REAL_KEY" | gptconv tokens add LABEL --kind api-key',
    '',
  ].join('\n')

  it('the README trap: after eval "$(gptconv env)", $OPENAI_API_KEY is the local key and is refused', async () => {
    // the two lines a reader types, in one shell
    const script = `eval "$(node ${ROOT}/bin/run.js env)" && printf %s "$OPENAI_API_KEY" | node ${ROOT}/bin/run.js tokens add work --kind api-key`
    const r = await new Promise<{code: number; stdout: string; stderr: string}>((resolve) => {
      execFile(
        '/bin/sh',
        ['-c', script],
        {
          env: {
            PATH: process.env.PATH,
            HOME: home.dir,
            GPTCONV_HOME: home.dir,
            GPTCONV_SECRET_STORE: 'file',
            NO_COLOR: '1',
            OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
          },
          timeout: 30_000,
        },
        (error, stdout, stderr) =>
          resolve({code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr}),
      )
    })
    assert.equal(r.code, 1)
    // `env` made the client key, and warned that it went to the plain file
    assert.equal(r.stderr.replace(/^Warning: Secret written to the plain file .*\n/, ''), CLIENT_KEY_ERROR)
    const key = (JSON.parse((await cli(['env', '--json'])).stdout) as {OPENAI_API_KEY: string}).OPENAI_API_KEY
    assert.ok(!r.stdout.includes(key) && !r.stderr.includes(key))
    assert.deepEqual(JSON.parse((await cli(['tokens', 'list', '--json'])).stdout), [])
  })

  it('the local client key with --json: the same error as JSON', async () => {
    const key = (JSON.parse((await cli(['env', '--json'])).stdout) as {OPENAI_API_KEY: string}).OPENAI_API_KEY
    const r = await cli(['tokens', 'add', 'work', '--kind', 'api-key', '--json'], key)
    assert.equal(r.code, 1)
    assert.deepEqual(JSON.parse(r.stdout), {
      error: {
        message:
          "This is gptconv's own local client key (what `gptconv env` puts in OPENAI_API_KEY), not a key for an upstream.",
        code: 'GPTCONV_INVALID_SECRET',
        hint: 'Add the key your provider gave you. After `eval "$(gptconv env)"`, OPENAI_API_KEY holds the local key: pipe the real one from where you keep it, e.g. printf %s "$REAL_KEY" | gptconv tokens add LABEL --kind api-key',
        exit: 1,
      },
    })
  })

  it('a secret already stored under another label: refused, naming that label', async () => {
    assert.equal((await cli(['tokens', 'add', 'work', '--kind', 'api-key'], KEY)).code, 0)
    const r = await cli(['tokens', 'add', 'second', '--kind', 'api-key'], KEY)
    assert.equal(r.code, 1)
    assert.equal(
      r.stderr,
      'Error: This secret is already stored as "work".\nCode: GPTCONV_SECRET_EXISTS\nTry this: Change that token with `gptconv tokens add work --kind api-key --force`, or remove it first with `gptconv tokens remove work`.\n',
    )
    assert.deepEqual(
      (JSON.parse((await cli(['tokens', 'list', '--json'])).stdout) as Array<{label: string}>).map((t) => t.label),
      ['work'],
    )
  })

  it('--force on the same label still replaces it', async () => {
    const r = await cli(['tokens', 'add', 'work', '--kind', 'api-key', '--force', '--rpm', '60', '--json'], KEY)
    assert.equal(r.code, 0, r.stdout)
    assert.equal((JSON.parse(r.stdout) as {rpm: number}).rpm, 60)
    assert.equal((JSON.parse((await cli(['tokens', 'list', '--json'])).stdout) as unknown[]).length, 1)
  })
})
