import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'

/**
 * Usage errors say what is missing or wrong and how to give it, in whole sentences: oclif
 * hard-wraps its errors at the terminal's width (80 columns when stderr is not a terminal),
 * these are never wrapped. Every case runs without OCLIF_COLUMNS, the way users run it.
 */

describe('usage error messages', () => {
  const home = tempHome()
  const cli = (...args: string[]) =>
    runCli(args, {home: home.dir, input: '', env: {OCLIF_COLUMNS: undefined, COLUMNS: '80'}})
  after(() => home.cleanup())

  it('a missing required flag: which one, its values and an example (exit 2)', async () => {
    const r = await cli('tokens', 'add', 'work')
    assert.equal(r.code, 2)
    assert.equal(
      r.stderr,
      'Error: Missing the required flag --kind: what the secret is.\n' +
        'Try this: Give it as --kind api-key|access-token|refresh-token, e.g. printf %s "$OPENAI_API_KEY" | gptconv tokens add work --kind api-key; see `gptconv tokens add --help`.\n',
    )
    assert.equal(r.stdout, '')
  })

  it('a missing required flag with --json: the same, as JSON on stdout (exit 2)', async () => {
    const r = await cli('tokens', 'add', 'work', '--json')
    assert.equal(r.code, 2)
    assert.deepEqual(JSON.parse(r.stdout), {
      error: {
        message: 'Missing the required flag --kind: what the secret is.',
        code: 'GPTCONV_USAGE',
        hint: 'Give it as --kind api-key|access-token|refresh-token, e.g. printf %s "$OPENAI_API_KEY" | gptconv tokens add work --kind api-key; see `gptconv tokens add --help`.',
        exit: 2,
      },
    })
  })

  it('a missing flag of a command whose other flags depend on it', async () => {
    // --base-url is optional for codex upstreams, so only --protocol is required
    const r = await cli('upstreams', 'add', 'x')
    assert.equal(r.code, 2)
    assert.equal(
      r.stderr,
      'Error: Missing the required flag --protocol: wire protocol of the upstream.\n' +
        'Try this: Give it as --protocol openai|chatgpt-web|codex, e.g. gptconv upstreams add local --protocol openai --base-url http://127.0.0.1:8000/v1; see `gptconv upstreams add --help`.\n',
    )
  })

  it('a missing argument: which one and an example', async () => {
    const r = await cli('tokens', 'add', '--kind', 'api-key')
    assert.equal(r.code, 2)
    assert.equal(
      r.stderr,
      'Error: Missing the label argument: name for this credential (letters, digits, . _ @ + -).\n' +
        'Try this: For example: printf %s "$OPENAI_API_KEY" | gptconv tokens add work --kind api-key; see `gptconv tokens add --help`.\n',
    )
  })

  it('a value that does not parse: one sentence, no stray tab', async () => {
    const r = await cli('serve', '--port', 'abc')
    assert.equal(r.code, 2)
    assert.equal(
      r.stderr,
      'Error: Invalid value for --port: expected an integer but received: abc.\nTry this: See `gptconv serve --help`.\n',
    )
    const json = await cli('serve', '--port', 'abc', '--json')
    assert.equal(json.code, 2)
    assert.deepEqual(JSON.parse(json.stdout), {
      error: {
        message: 'Invalid value for --port: expected an integer but received: abc.',
        code: 'GPTCONV_USAGE',
        hint: 'See `gptconv serve --help`.',
        exit: 2,
      },
    })
  })

  it('a long failure message stays on one line', async () => {
    const r = await cli(
      'tokens',
      'add',
      'x',
      '--kind',
      'api-key',
      '--from-env',
      'A_VARIABLE_WITH_A_RATHER_LONG_NAME_THAT_NOBODY_HAS_SET',
    )
    assert.equal(r.code, 2)
    assert.equal(
      r.stderr,
      'Error: The environment variable A_VARIABLE_WITH_A_RATHER_LONG_NAME_THAT_NOBODY_HAS_SET is not set.\n' +
        'Try this: export A_VARIABLE_WITH_A_RATHER_LONG_NAME_THAT_NOBODY_HAS_SET=… first, or pipe the secret on stdin.\n',
    )
  })
})
