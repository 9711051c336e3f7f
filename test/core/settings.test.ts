import assert from 'node:assert/strict'
import {afterEach, beforeEach, describe, it} from 'node:test'

import {type Context, createContext} from '../../src/core/context.js'
import {UsageError} from '../../src/core/errors.js'
import {getSetting, listSettings, setSetting, unsetSetting} from '../../src/core/settings.js'
import {tempHome} from '../helpers/cli.js'

describe('settings', () => {
  let home: ReturnType<typeof tempHome>
  let ctx: Context
  beforeEach(() => {
    home = tempHome()
    ctx = createContext({env: {GPTCONV_HOME: home.dir}})
  })
  afterEach(() => home.cleanup())

  it('parses values by the schema type', async () => {
    assert.equal(await setSetting(ctx, 'server.port', '9000'), 9000)
    assert.deepEqual(await setSetting(ctx, 'server.allowedOrigins', 'http://a.test, http://b.test'), [
      'http://a.test',
      'http://b.test',
    ])
    assert.deepEqual(await setSetting(ctx, 'server.allowedHosts', '["gw.internal"]'), ['gw.internal'])
    assert.equal(await setSetting(ctx, 'logLevel', 'debug'), 'debug')
    assert.equal(await setSetting(ctx, 'aliases.fast', 'gpt-4o-mini'), 'gpt-4o-mini')
    assert.equal(getSetting(ctx, 'server.port'), 9000)
    assert.deepEqual(getSetting(ctx, 'aliases'), {fast: 'gpt-4o-mini'})
    assert.equal(listSettings(ctx).pool.maxAttempts, 3)
    assert.ok(!('tokens' in listSettings(ctx)))
  })

  it('rejects unknown keys and bad values with usage errors', async () => {
    await assert.rejects(
      setSetting(ctx, 'server.prot', '1'),
      (e: unknown) => e instanceof UsageError && /Unknown setting/.test(e.message) && /server\.port/.test(e.hint ?? ''),
    )
    await assert.rejects(setSetting(ctx, 'tokens.x', '1'), /Unknown setting/)
    await assert.rejects(
      setSetting(ctx, 'server.port', 'abc'),
      (e: unknown) => e instanceof UsageError && e.exitCode === 2 && /whole number/.test(e.message),
    )
    await assert.rejects(setSetting(ctx, 'server.port', '70000'), /must be <= 65535/)
    await assert.rejects(setSetting(ctx, 'logLevel', 'loud'), /one of fatal, error/)
    assert.equal(getSetting(ctx, 'server.port'), 8787, 'nothing was written')
  })

  it('unsets back to the default, or removes an alias', async () => {
    await setSetting(ctx, 'server.port', '9000')
    await setSetting(ctx, 'aliases.fast', 'gpt-4o-mini')
    assert.equal(await unsetSetting(ctx, 'server.port'), 8787)
    assert.equal(getSetting(ctx, 'server.port'), 8787)
    await unsetSetting(ctx, 'aliases.fast')
    assert.deepEqual(getSetting(ctx, 'aliases'), {})
  })
})
