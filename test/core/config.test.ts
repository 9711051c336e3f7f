import assert from 'node:assert/strict'
import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, it} from 'node:test'

import {ConfigFile} from '../../src/core/config.js'
import {ConfigCorruptError, UsageError} from '../../src/core/errors.js'
import {tempHome} from '../helpers/cli.js'

describe('ConfigFile', () => {
  let home: ReturnType<typeof tempHome>
  let file: ConfigFile
  beforeEach(() => {
    home = tempHome()
    file = new ConfigFile(join(home.dir, 'config.json'))
  })
  afterEach(() => home.cleanup())

  it('reads defaults when there is no file, and does not create one', () => {
    const settings = file.read()
    assert.equal(settings.server.host, '127.0.0.1')
    assert.equal(settings.server.port, 8787)
    assert.equal(settings.server.apiPrefix, '/v1')
    assert.equal(settings.pool.maxAttempts, 3)
    assert.equal(settings.pool.queueTimeoutMs, 60_000)
    assert.equal(settings.sessions.ttlMinutes, 30)
    assert.equal(settings.logLevel, 'info')
    assert.deepEqual(settings.upstreams.openai, {protocol: 'openai', baseUrl: 'https://api.openai.com/v1'})
    assert.deepEqual(settings.tokens, {})
    assert.equal(existsSync(file.path), false)
  })

  it('fills nested defaults next to values the user set', () => {
    writeFileSync(file.path, JSON.stringify({server: {port: 9000}}))
    const settings = file.read()
    assert.equal(settings.server.port, 9000)
    assert.equal(settings.server.host, '127.0.0.1')
    assert.equal(settings.server.bodyLimitBytes, 16 * 1024 * 1024)
  })

  it('writes validated changes with mode 0600', async () => {
    await file.update((s) => {
      s.server.port = 9100
    })
    assert.equal(file.read().server.port, 9100)
    assert.equal(statSync(file.path).mode & 0o777, 0o600)
  })

  it('refuses a change that breaks the schema and leaves the file as it was', async () => {
    await file.update((s) => {
      s.server.port = 9100
    })
    const before = readFileSync(file.path, 'utf8')
    await assert.rejects(
      file.update((s) => {
        s.server.port = 70_000
      }),
      (error: unknown) =>
        error instanceof UsageError && /server\.port/.test(error.message) && /65535/.test(error.message),
    )
    assert.equal(readFileSync(file.path, 'utf8'), before)
  })

  it('loses no change when two updates race', async () => {
    await Promise.all(
      Array.from({length: 8}, (_, i) =>
        file.update((s) => {
          s.aliases[`a${i}`] = `model-${i}`
        }),
      ),
    )
    assert.deepEqual(Object.keys(file.read().aliases).sort(), ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'])
  })

  it('names a corrupted file, keeps a copy and overwrites nothing', async () => {
    const broken = '{"server": {"port": 9000,,}'
    writeFileSync(file.path, broken)
    assert.throws(
      () => file.read(),
      (error: unknown) =>
        error instanceof ConfigCorruptError &&
        error.code === 'GPTCONV_CONFIG_CORRUPT' &&
        error.message.includes(file.path) &&
        error.message.includes('not valid JSON') &&
        error.message.includes(`${file.path}.corrupt`) &&
        typeof error.hint === 'string',
    )
    await assert.rejects(
      file.update((s) => {
        s.server.port = 1
      }),
      ConfigCorruptError,
    )
    assert.equal(readFileSync(file.path, 'utf8'), broken)
    assert.equal(readFileSync(`${file.path}.corrupt`, 'utf8'), broken)
  })

  it('reports values that break the schema as a corrupt file', () => {
    writeFileSync(file.path, JSON.stringify({server: {port: 'eighty'}, tokens: {x: {label: 'x'}}}))
    assert.throws(
      () => file.read(),
      (error: unknown) =>
        error instanceof ConfigCorruptError &&
        /`server\.port` must be integer/.test(error.message) &&
        /tokens\.x/.test(error.message),
    )
  })

  it('rejects a file that holds no object', () => {
    writeFileSync(file.path, '[1,2]')
    assert.throws(() => file.read(), /does not hold a JSON object/)
  })
})
