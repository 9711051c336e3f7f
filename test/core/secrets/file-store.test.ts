import assert from 'node:assert/strict'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, it} from 'node:test'

import {KeychainUnavailableError, SecretStoreError, UsageError} from '../../../src/core/errors.js'
import {FileStore} from '../../../src/core/secrets/file-store.js'
import {openSecretStore} from '../../../src/core/secrets/index.js'
import {tempHome} from '../../helpers/cli.js'

describe('FileStore', () => {
  let home: ReturnType<typeof tempHome>
  let path: string
  beforeEach(() => {
    home = tempHome()
    path = join(home.dir, 'state', 'secrets.json')
  })
  afterEach(() => home.cleanup())

  it('stores, reads and deletes secrets in a 0600 file inside a 0700 directory', async () => {
    const store = new FileStore(path)
    assert.equal(await store.get('work'), null)
    await store.set('work', 'sk-one')
    await store.set('home', 'sk-two')
    assert.equal(await store.get('work'), 'sk-one')
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.equal(statSync(join(home.dir, 'state')).mode & 0o777, 0o700)
    assert.equal(await store.delete('work'), true)
    assert.equal(await store.delete('work'), false)
    assert.equal(await store.get('work'), null)
    assert.equal(await store.get('home'), 'sk-two')
  })

  it('warns on every write', async () => {
    const warnings: number[] = []
    const store = new FileStore(path, () => warnings.push(1))
    await store.set('a', 'x')
    await store.set('b', 'y')
    await store.delete('a')
    assert.equal(warnings.length, 2)
  })

  it('tightens the mode of an existing file on write', async () => {
    writeFileSync(path.replace('/state', ''), '{"version":1,"secrets":{}}', {mode: 0o644})
    const store = new FileStore(path.replace('/state', ''))
    await store.set('a', 'x')
    assert.equal(statSync(path.replace('/state', '')).mode & 0o777, 0o600)
  })

  it('loses no secret when writers race', async () => {
    const store = new FileStore(path)
    await Promise.all(Array.from({length: 10}, (_, i) => store.set(`t${i}`, `secret-${i}`)))
    for (let i = 0; i < 10; i++) assert.equal(await store.get(`t${i}`), `secret-${i}`)
  })

  it('reports a damaged file without echoing its content', async () => {
    writeFileSync(join(home.dir, 'secrets.json'), '{"version":1,"secrets":{"a":"sk-leak-me-please"')
    const store = new FileStore(join(home.dir, 'secrets.json'))
    await assert.rejects(
      store.get('a'),
      (error: unknown) =>
        error instanceof SecretStoreError && /damaged/.test(error.message) && !error.message.includes('sk-leak'),
    )
  })
})

// The keychain library reads the D-Bus address from the real process environment: with
// none, the Secret Service is unreachable, so these tests can never touch a real keychain.
delete process.env.DBUS_SESSION_BUS_ADDRESS

describe('openSecretStore', {skip: process.platform === 'linux' ? false : 'needs Linux (Secret Service)'}, () => {
  let home: ReturnType<typeof tempHome>
  beforeEach(() => {
    home = tempHome()
  })
  afterEach(() => home.cleanup())

  // No D-Bus address at all: the Secret Service cannot be reached, and napi fails fast.
  const noBus = (extra: Record<string, string> = {}) => ({
    GPTCONV_HOME: home.dir,
    GPTCONV_KEYCHAIN_SERVICE: 'gptconv-test-none',
    ...extra,
  })

  it('uses the file when GPTCONV_SECRET_STORE=file', async () => {
    const store = await openSecretStore({env: noBus({GPTCONV_SECRET_STORE: 'file'})})
    assert.equal(store.kind, 'file')
    assert.equal(store.location, join(home.dir, 'secrets.json'))
  })

  it('falls back to the file, with a warning on write, when no keychain is usable', async () => {
    const warnings: string[] = []
    const store = await openSecretStore({env: noBus(), warn: (m) => warnings.push(m)})
    assert.equal(store.kind, 'file')
    await store.set('x', 'sk-fallback-secret-value')
    assert.equal(warnings.length, 1)
    assert.match(warnings[0], /plain file .*secrets\.json \(mode 0600\), because no OS keychain is usable/)
    assert.ok(!warnings[0].includes('sk-fallback'))
    assert.equal(JSON.parse(readFileSync(join(home.dir, 'secrets.json'), 'utf8')).secrets.x, 'sk-fallback-secret-value')
  })

  it('fails clearly when the keychain is forced but unusable', async () => {
    await assert.rejects(
      openSecretStore({env: noBus({GPTCONV_SECRET_STORE: 'keychain'})}),
      (error: unknown) =>
        error instanceof KeychainUnavailableError &&
        error.code === 'GPTCONV_KEYCHAIN_UNAVAILABLE' &&
        /No usable OS keychain/.test(error.message) &&
        /GPTCONV_SECRET_STORE=file/.test(error.hint ?? ''),
    )
  })

  it('rejects an unknown GPTCONV_SECRET_STORE', async () => {
    await assert.rejects(openSecretStore({env: noBus({GPTCONV_SECRET_STORE: 'vault'})}), UsageError)
  })
})
