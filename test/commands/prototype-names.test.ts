import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'

/**
 * Labels, aliases and models a user types are keys of plain objects in the config; names
 * like `constructor`, `toString` or `__proto__` must name nothing but what was stored.
 */
describe('object-prototype names in the CLI', () => {
  let home: ReturnType<typeof tempHome>
  const cli = (args: string[], input?: string) =>
    runCli(args, {home: home.dir, env: {GPTCONV_SECRET_STORE: 'file'}, input})

  before(() => {
    home = tempHome()
  })
  after(() => home.cleanup())

  it('a token labelled constructor can be added, listed and removed; removing toString says there is none', async () => {
    const added = await cli(
      ['tokens', 'add', 'constructor', '--kind', 'api-key', '--json'],
      'sk-proto-key-abcdefghijklmnopqrstu0000',
    )
    assert.equal(added.code, 0, added.stderr + added.stdout)
    assert.equal((JSON.parse(added.stdout) as {label: string}).label, 'constructor')
    const listed = JSON.parse((await cli(['tokens', 'list', '--json'])).stdout) as Array<{label: string}>
    assert.deepEqual(
      listed.map((t) => t.label),
      ['constructor'],
    )
    const missing = await cli(['tokens', 'remove', 'toString'])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /No token labelled "toString"/)
    assert.doesNotMatch(missing.stdout + missing.stderr, /undefined/)
    const removed = await cli(['tokens', 'remove', 'constructor'])
    assert.equal(removed.code, 0)
    assert.match(removed.stdout, /Removed "constructor"/)
  })

  it('aliases may be named __proto__ or carry dots, and are stored as they were named', async () => {
    assert.equal((await cli(['config', 'set', 'aliases.__proto__', 'gpt-4o-mini'])).code, 0)
    assert.equal((await cli(['config', 'set', 'aliases.claude-3.5-haiku', 'gpt-4o'])).code, 0)
    const get = async (key: string) =>
      (JSON.parse((await cli(['config', 'get', key, '--json'])).stdout) as {value: unknown}).value
    const aliases = (await get('aliases')) as Record<string, string>
    assert.equal(Object.getPrototypeOf(aliases), Object.prototype)
    assert.deepEqual(Object.entries(aliases).sort(), [
      ['__proto__', 'gpt-4o-mini'],
      ['claude-3.5-haiku', 'gpt-4o'],
    ])
    assert.equal(await get('aliases.claude-3.5-haiku'), 'gpt-4o')
    assert.equal((await cli(['config', 'unset', 'aliases.claude-3.5-haiku'])).code, 0)
    assert.equal(await get('aliases.claude-3.5-haiku'), null)
    assert.equal(await get('aliases.constructor'), null)
  })
})
