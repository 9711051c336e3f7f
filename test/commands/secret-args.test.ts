import assert from 'node:assert/strict'
import {readFileSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {type CliResult, runCli, tempHome} from '../helpers/cli.js'
import {accessToken} from '../helpers/jwt.js'

/**
 * A secret typed as an argument is refused — and never echoed back, with or without
 * --json: it is masked the way `tokens list` masks secrets, and the hint says to pipe it
 * on stdin.
 */

const KEY = 'sk-proj-argtestabcdefghijklmnopqrstuvwxyz0123456789WXYZ'
const JWT = accessToken({email: 'eve@example.com'})
// a random key without a known prefix (32 characters of upper case, lower case and digits)
const RANDOM = 'Q7fLx2RmZ9tKp4VwN8cJ3hYb6GdS1eTu'
const HINT =
  'Secrets are never taken from arguments (shell history, `ps`): pipe it on stdin, e.g. printf %s "$KEY" | gptconv tokens add LABEL --kind api-key (or name the variable that holds it: --from-env KEY).'

function allText(dir: string): string {
  return readdirSync(dir)
    .map((name) =>
      statSync(join(dir, name)).isDirectory() ? allText(join(dir, name)) : readFileSync(join(dir, name), 'utf8'),
    )
    .join('\n')
}

function assertNotEchoed(r: CliResult, ...secrets: string[]): void {
  for (const secret of secrets)
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `echoed:\n${r.stdout}\n${r.stderr}`)
}

describe('a secret typed as an argument', () => {
  const home = tempHome()
  const cli = (...args: string[]) => runCli(args, {home: home.dir, input: ''})
  after(() => home.cleanup())

  it('after the label: refused, masked, with the stdin hint', async () => {
    const r = await cli('tokens', 'add', 'work', KEY, '--kind', 'api-key')
    assert.equal(r.code, 2)
    assert.equal(r.stderr, `Error: Unexpected argument: sk-proj-…WXYZ.\nTry this: ${HINT}\n`)
    assertNotEchoed(r, KEY)
  })

  it('after the label, with --json: the same error as JSON', async () => {
    const r = await cli('tokens', 'add', 'work', KEY, '--kind', 'api-key', '--json')
    assert.equal(r.code, 2)
    assert.deepEqual(JSON.parse(r.stdout), {
      error: {message: 'Unexpected argument: sk-proj-…WXYZ.', code: 'GPTCONV_USAGE', hint: HINT, exit: 2},
    })
    assertNotEchoed(r, KEY)
  })

  it('as a JWT or a random token: masked too', async () => {
    const jwt = await cli('tokens', 'add', 'work', JWT, '--kind', 'access-token')
    assert.equal(jwt.code, 2)
    assert.equal(jwt.stderr.split('\n')[0], `Error: Unexpected argument: eyJ…${JWT.slice(-4)}.`)
    const random = await cli('tokens', 'add', 'work', RANDOM, '--kind', 'api-key')
    assert.equal(random.code, 2)
    assert.equal(random.stderr.split('\n')[0], 'Error: Unexpected argument: …1eTu.')
    assertNotEchoed(jwt, JWT)
    assertNotEchoed(random, RANDOM)
  })

  it('in the place of the label: refused before anything is read or stored', async () => {
    const r = await cli('tokens', 'add', KEY, '--kind', 'api-key')
    assert.equal(r.code, 2)
    assert.equal(
      r.stderr,
      `Error: The label sk-proj-…WXYZ looks like a secret; the label is a name for it, such as "work".\nTry this: ${HINT}\n`,
    )
    assertNotEchoed(r, KEY)
  })

  it('after a command that takes no arguments: masked, with and without --json', async () => {
    const r = await cli('status', KEY)
    assert.equal(r.code, 2)
    assert.equal(r.stderr, `Error: Unexpected argument: sk-proj-…WXYZ\nTry this: ${HINT}\n`)
    const json = await cli('status', KEY, '--json')
    assert.equal(json.code, 2)
    assert.deepEqual(JSON.parse(json.stdout), {
      error: {message: 'Unexpected argument: sk-proj-…WXYZ', code: 'GPTCONV_USAGE', hint: HINT, exit: 2},
    })
    assertNotEchoed(r, KEY)
    assertNotEchoed(json, KEY)
  })

  it('as the value of an unknown flag: masked', async () => {
    const r = await cli('tokens', 'add', 'work', '--kind', 'api-key', `--key=${KEY}`)
    assert.equal(r.code, 2)
    assert.equal(r.stderr, `Error: Nonexistent flag: --key=sk-proj-…WXYZ.\nTry this: ${HINT}\n`)
    assertNotEchoed(r, KEY)
  })

  it('given to --from-env instead of a variable name: not echoed, with or without --json', async () => {
    const r = await cli('tokens', 'add', 'work', '--kind', 'api-key', '--from-env', KEY)
    assert.equal(r.code, 2)
    assert.equal(
      r.stderr,
      `Error: --from-env takes the name of an environment variable (letters, digits and _, not starting with a digit), not a value.\nTry this: ${HINT}\n`,
    )
    const json = await cli('tokens', 'add', 'work', '--kind', 'api-key', '--from-env', RANDOM, '--json')
    assert.equal(json.code, 2)
    assert.deepEqual(JSON.parse(json.stdout), {
      error: {
        message:
          '--from-env was given …1eTu, which looks like a secret rather than the name of an environment variable.',
        code: 'GPTCONV_USAGE',
        hint: HINT,
        exit: 2,
      },
    })
    assertNotEchoed(r, KEY)
    assertNotEchoed(json, RANDOM)
  })

  it('stored nothing anywhere', async () => {
    const list = await cli('tokens', 'list', '--json')
    assert.deepEqual(JSON.parse(list.stdout), [])
    const text = allText(home.dir)
    for (const secret of [KEY, JWT, RANDOM]) assert.ok(!text.includes(secret))
  })
})
