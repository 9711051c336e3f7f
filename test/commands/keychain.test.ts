import assert from 'node:assert/strict'
import {readFileSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'
import {type PrivateKeyring, keyringUnavailable, startPrivateKeyring} from '../helpers/keyring.js'

const KEY = 'sk-keychain-test-abcdefghijklmnopqr7777'
const SERVICE = `gptconv-kc-${process.pid}`

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

describe(
  'gptconv tokens against a real Secret Service (private D-Bus + gnome-keyring)',
  {skip: keyringUnavailable()},
  () => {
    const home = tempHome()
    let keyring: PrivateKeyring
    const cli = (args: string[], input?: string, env: Record<string, string | undefined> = {}) =>
      runCli(args, {
        home: home.dir,
        input,
        env: {...keyring.env, GPTCONV_SECRET_STORE: undefined, GPTCONV_KEYCHAIN_SERVICE: SERVICE, ...env},
      })

    before(async () => {
      keyring = await startPrivateKeyring()
    })
    after(async () => {
      await keyring?.stop()
      home.cleanup()
    })

    it('stores the secret in the keychain and in no file under the state directory', async () => {
      const r = await cli(['tokens', 'add', 'work', '--kind', 'api-key'], KEY)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout.trim(), 'Stored api-key "work" (sk-…7777) in the OS keychain, upstream openai.')
      assert.equal(r.stderr, '', 'no fallback warning')
      assert.equal(keyring.secretTool('lookup', 'service', SERVICE, 'username', 'work'), KEY)
      assert.match(keyring.secretTool('search', 'service', SERVICE), new RegExp(`attribute\\.service = ${SERVICE}`))
      assert.match(keyring.secretTool('search', 'service', SERVICE), /attribute\.username = work/)
      for (const file of filesUnder(home.dir))
        assert.ok(!readFileSync(file, 'utf8').includes(KEY), `${file} holds the secret`)
    })

    it('lists the token with its label and no secret', async () => {
      const r = await cli(['tokens', 'list', '--json'])
      assert.equal(r.code, 0, r.stderr)
      const [token] = JSON.parse(r.stdout) as Array<{label: string; store: string; secret: string}>
      assert.equal(token.label, 'work')
      assert.equal(token.store, 'keychain')
      assert.equal(token.secret, 'sk-…7777')
      assert.ok(!r.stdout.includes(KEY))
    })

    it('leaves no probe entries behind', () => {
      assert.doesNotMatch(keyring.secretTool('search', '--all', 'service', SERVICE), /#probe/)
    })

    it('removes the secret from the keychain', async () => {
      const r = await cli(['tokens', 'remove', 'work'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(keyring.secretTool('search', '--all', 'service', SERVICE).trim(), '')
    })

    it('honours GPTCONV_KEYCHAIN_SERVICE and never writes to the default service', async () => {
      await cli(['tokens', 'add', 'other', '--kind', 'api-key'], KEY)
      assert.equal(keyring.secretTool('search', '--all', 'service', 'gptconv').trim(), '')
    })

    it('refuses a secret the keychain holds under another label, and the client key it keeps', async () => {
      const dup = await cli(['tokens', 'add', 'again', '--kind', 'api-key'], KEY)
      assert.equal(dup.code, 1)
      assert.equal(
        dup.stderr,
        'Error: This secret is already stored as "other".\nCode: GPTCONV_SECRET_EXISTS\nTry this: Change that token with `gptconv tokens add other --kind api-key --force`, or remove it first with `gptconv tokens remove other`.\n',
      )
      const env = await cli(['env', '--json'])
      assert.equal(env.code, 0, env.stderr)
      const clientKey = (JSON.parse(env.stdout) as {OPENAI_API_KEY: string}).OPENAI_API_KEY
      assert.equal(
        keyring.secretTool('lookup', 'service', SERVICE, 'username', '#client-key'),
        clientKey,
        'the client key is in the keychain',
      )
      const own = await cli(['tokens', 'add', 'mine', '--kind', 'api-key'], clientKey)
      assert.equal(own.code, 1)
      assert.match(own.stderr, /^Error: This is gptconv's own local client key/)
      assert.ok(!own.stderr.includes(clientKey))
      assert.deepEqual(
        (JSON.parse((await cli(['tokens', 'list', '--json'])).stdout) as Array<{label: string}>).map((t) => t.label),
        ['other'],
      )
    })

    it('GPTCONV_SECRET_STORE=keychain fails clearly when no keychain is reachable', async () => {
      const r = await cli(['tokens', 'add', 'x', '--kind', 'api-key'], KEY, {
        GPTCONV_SECRET_STORE: 'keychain',
        DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus',
      })
      assert.equal(r.code, 1)
      assert.match(r.stderr, /Error: No usable OS keychain: .*Failed to connect to socket/)
      assert.match(r.stderr, /Code: GPTCONV_KEYCHAIN_UNAVAILABLE/)
      assert.match(r.stderr, /Try this: .*GPTCONV_SECRET_STORE=file/)
      assert.ok(!r.stderr.includes(KEY))
    })
  },
)
