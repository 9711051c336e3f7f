import assert from 'node:assert/strict'
import {readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'
import {type PrivateKeyring, keyringUnavailable, startPrivateKeyring} from '../helpers/keyring.js'

/**
 * What a daemon or command meets at start that it cannot use: a locked keychain, a
 * corrupted config file. Each gives a clear error and exit 1, and changes nothing.
 */

const KEY = 'sk-startup-locked-abcdefghijklmnop4242'
const OTHER = 'sk-startup-other-abcdefghijklmnopq9191'
const SERVICE = `gptconv-startup-${process.pid}`

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name), 'utf8')]))
}

describe('a locked keychain at start', {skip: keyringUnavailable()}, () => {
  const home = tempHome()
  let keyring: PrivateKeyring
  const cli = (args: string[], input?: string) =>
    runCli(args, {
      home: home.dir,
      input,
      env: {...keyring.env, GPTCONV_SECRET_STORE: undefined, GPTCONV_KEYCHAIN_SERVICE: SERVICE},
      timeoutMs: 30_000,
    })

  before(async () => {
    keyring = await startPrivateKeyring()
    const added = await cli(['tokens', 'add', 'work', '--kind', 'api-key'], KEY)
    assert.equal(added.code, 0, added.stderr)
    // the same keyring files, opened again without the password: locked
    await keyring.restart({unlock: false})
  })
  after(async () => {
    await keyring?.stop()
    home.cleanup()
  })

  it('stops `serve` with an error naming the token and what to do, and writes nothing', async () => {
    const before = snapshot(home.dir)
    const r = await cli(['serve', '--port', '0'])
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /The token "work" is kept in the OS keychain, which cannot be used/)
    assert.match(r.stderr, /Try this: Unlock your keychain/)
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace')
    assert.deepEqual(snapshot(home.dir), before, 'no client key, pid file or secrets file was written')
  })

  it('refuses `tokens add` rather than putting the new secret in a plain file', async () => {
    const before = snapshot(home.dir)
    const r = await cli(['tokens', 'add', 'other', '--kind', 'api-key'], OTHER)
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /The token "work" is kept in the OS keychain, which cannot be used/)
    assert.deepEqual(snapshot(home.dir), before)
    assert.ok(!Object.values(snapshot(home.dir)).some((text) => text.includes(OTHER)))
  })

  it('finds everything as it was once the keychain is unlocked', async () => {
    await keyring.restart({unlock: true})
    assert.equal(keyring.secretTool('lookup', 'service', SERVICE, 'username', 'work'), KEY)
    const r = await cli(['tokens', 'list', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(
      (JSON.parse(r.stdout) as Array<{label: string; store: string}>).map((t) => [t.label, t.store]),
      [['work', 'keychain']],
    )
  })
})

describe('a locked keychain that holds only the client key', {skip: keyringUnavailable()}, () => {
  const home = tempHome()
  let keyring: PrivateKeyring
  let key: string
  const cli = (args: string[]) =>
    runCli(args, {
      home: home.dir,
      env: {...keyring.env, GPTCONV_SECRET_STORE: undefined, GPTCONV_KEYCHAIN_SERVICE: SERVICE},
      timeoutMs: 30_000,
    })

  before(async () => {
    keyring = await startPrivateKeyring()
    const env = await cli(['env', '--json'])
    assert.equal(env.code, 0, env.stderr)
    key = (JSON.parse(env.stdout) as {OPENAI_API_KEY: string}).OPENAI_API_KEY
    assert.match(key, /^sk-gptconv-/)
    await keyring.restart({unlock: false})
  })
  after(async () => {
    await keyring?.stop()
    home.cleanup()
  })

  it('stops `serve` and `env` instead of making a new key that would lock out every client', async () => {
    const before = snapshot(home.dir)
    for (const args of [['serve', '--port', '0'], ['env']]) {
      const r = await cli(args)
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
      assert.match(r.stderr, /The local client key is kept in the OS keychain, which cannot be used now/)
      assert.match(r.stderr, /Try this: Unlock your keychain/)
      assert.ok(!r.stdout.includes('sk-gptconv-'), 'no key was printed')
    }

    assert.deepEqual(snapshot(home.dir), before, 'no new key, pid file or secrets file was written')
  })

  it('gives the same key once the keychain is unlocked', async () => {
    await keyring.restart({unlock: true})
    const r = await cli(['env', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal((JSON.parse(r.stdout) as {OPENAI_API_KEY: string}).OPENAI_API_KEY, key)
  })
})

describe('a corrupted config file at start', () => {
  for (const [what, text] of [
    ['not JSON', '{"server": {"port": 87'],
    ['against the schema', JSON.stringify({server: {port: 'eighty'}, tokens: []})],
  ] as const) {
    it(`stops \`serve\` and \`serve --detach\` when it is ${what}, naming the file and leaving it as it was`, async () => {
      const home = tempHome()
      try {
        const config = join(home.dir, 'config.json')
        writeFileSync(config, text)
        for (const args of [
          ['serve', '--port', '0'],
          ['serve', '--detach', '--port', '0'],
        ]) {
          const r = await runCli(args, {home: home.dir, timeoutMs: 30_000})
          assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
          assert.match(
            r.stderr,
            new RegExp(`The config file ${config} (is not valid JSON|breaks the settings schema)`),
            args.join(' '),
          )
          assert.match(r.stderr, /Try this: Fix the file by hand/)
          assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace')
          assert.equal(readFileSync(config, 'utf8'), text, 'the file is untouched')
        }

        assert.deepEqual(
          readdirSync(home.dir).sort(),
          ['config.json', 'config.json.corrupt'],
          'only the copy was written: no key, pid or log',
        )
        assert.equal(readFileSync(`${config}.corrupt`, 'utf8'), text)
      } finally {
        home.cleanup()
      }
    })
  }
})
