import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'
import {runInTerminal, scriptAvailable} from '../helpers/tty.js'

/**
 * A mistyped command gets a "did you mean": in the error (exit 2, also as JSON), and on an
 * interactive terminal as @oclif/plugin-not-found's question, which runs the command on
 * yes. Words after a real command that takes none stay "Unexpected argument" (exit 2),
 * and are never taken for a typo.
 */

describe('unknown commands', () => {
  const home = tempHome()
  const cli = (...args: string[]) => runCli(args, {home: home.dir, input: ''})
  after(() => home.cleanup())

  it('a typo: exit 2 and the command it probably meant', async () => {
    const r = await cli('tokns', 'list')
    assert.equal(r.code, 2)
    assert.equal(
      r.stderr,
      'Error: "tokns list" is not a gptconv command.\nTry this: Did you mean `gptconv tokens list`? Run `gptconv --help` for the list of commands.\n',
    )
    assert.equal(r.stdout, '')
  })

  it('a typo with --json: the same as JSON on stdout', async () => {
    const r = await cli('tokns', 'list', '--json')
    assert.equal(r.code, 2)
    assert.deepEqual(JSON.parse(r.stdout), {
      error: {
        message: '"tokns list" is not a gptconv command.',
        code: 'GPTCONV_USAGE',
        hint: 'Did you mean `gptconv tokens list`? Run `gptconv --help` for the list of commands.',
        exit: 2,
      },
    })
  })

  it('a typo followed by arguments keeps them in the suggestion', async () => {
    const r = await cli('confg', 'get', 'server.port')
    assert.equal(r.code, 2)
    assert.equal(
      r.stderr,
      'Error: "confg get server.port" is not a gptconv command.\nTry this: Did you mean `gptconv config get server.port`? Run `gptconv --help` for the list of commands.\n',
    )
  })

  it('nothing close: no guess', async () => {
    const r = await cli('frobnicate')
    assert.equal(r.code, 2)
    assert.equal(
      r.stderr,
      'Error: "frobnicate" is not a gptconv command.\nTry this: Run `gptconv --help` for the list of commands.\n',
    )
  })

  it('an argument to a command that takes none: still "Unexpected argument", with and without --json', async () => {
    const r = await cli('status', 'extra')
    assert.equal(r.code, 2)
    assert.equal(
      r.stderr,
      'Error: Unexpected argument: extra\nTry this: `gptconv status` takes no arguments; see `gptconv status --help`.\n',
    )
    const json = await cli('config', 'path', 'extra', '--json')
    assert.equal(json.code, 2)
    assert.deepEqual(JSON.parse(json.stdout), {
      error: {
        message: 'Unexpected argument: extra',
        code: 'GPTCONV_USAGE',
        hint: '`gptconv config path` takes no arguments; see `gptconv config path --help`.',
        exit: 2,
      },
    })
  })

  describe('on an interactive terminal', {skip: scriptAvailable()}, () => {
    it('asks "Did you mean …?" and runs the command on yes', async () => {
      const run = runInTerminal(['tokns', 'list'], {home: home.dir, columns: 100})
      await run.waitFor('Did you mean tokens list?')
      run.type('y\r')
      assert.equal(await run.exit, 0, run.output())
      assert.match(run.output(), /No tokens yet\. Add one with:/)
    })

    it('on no, ends with the usage error (exit 2)', async () => {
      const run = runInTerminal(['tokns', 'list'], {home: home.dir, columns: 100})
      await run.waitFor('Did you mean tokens list?')
      run.type('n\r')
      assert.equal(await run.exit, 2, run.output())
      assert.match(
        run.output(),
        /Error: "tokns list" is not a gptconv command\.\r?\nTry this: Did you mean `gptconv tokens list`\?/,
      )
      assert.doesNotMatch(run.output(), /No tokens yet/)
    })

    it('does not ask about an argument to a command that takes none', async () => {
      const run = runInTerminal(['status', 'extra'], {home: home.dir, columns: 100})
      assert.equal(await run.exit, 2, run.output())
      assert.match(run.output(), /Error: Unexpected argument: extra/)
      assert.doesNotMatch(run.output(), /Did you mean/)
    })
  })
})
