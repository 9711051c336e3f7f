import assert from 'node:assert/strict'
import {readFileSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {type CliResult, ROOT, runCli, tempHome} from '../helpers/cli.js'

/**
 * Bad flags, bad values and missing or extra arguments are usage errors: exit 2, a short
 * message on stderr without a stack trace — and with --json, exit 2 too and one JSON
 * document `{"error": {…}}` on stdout. Every case starts the built CLI in a fresh, empty
 * state directory with an empty stdin, so nothing waits for input.
 */

type Manifest = {
  commands: Record<
    string,
    {
      strict?: boolean
      args?: Record<string, {required?: boolean}>
      flags: Record<string, {type: 'boolean' | 'option'; required?: boolean; options?: string[]; helpValue?: string}>
    }
  >
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as Manifest
/** A stack frame of the CLI or a dependency (`at fn (/path/file.js:12:3)`). */
const STACK_FRAME = /at .*\.js:\d+/
/** How long one CLI run may take: a case that is not refused would otherwise run a daemon or wait. */
const TIMEOUT_MS = 20_000
const CONCURRENCY = 6

/** Run `fn` with a fresh, empty state directory, removed afterwards. */
async function inFreshHome<T>(fn: (home: string) => Promise<T>): Promise<T> {
  const home = tempHome('gptconv-usage-')
  try {
    return await fn(home.dir)
  } finally {
    home.cleanup()
  }
}

const cli = (args: string[], home: string) => runCli(args, {home, input: '', timeoutMs: TIMEOUT_MS})

function show(args: string[], r: CliResult): string {
  return `gptconv ${args.join(' ')} → exit ${r.code}\n--- stdout:\n${r.stdout.slice(0, 2000)}\n--- stderr:\n${r.stderr.slice(0, 2000)}`
}

function assertNoStack(args: string[], r: CliResult): void {
  const frames = `${r.stderr}\n${r.stdout}`.split('\n').filter((line) => STACK_FRAME.test(line))
  assert.deepEqual(frames, [], `a stack trace:\n${show(args, r)}`)
}

/** Exit 2 and a usage error on stderr (matching `message`), no stack trace. */
function assertUsageError(args: string[], r: CliResult, message: RegExp): void {
  assert.equal(r.code, 2, show(args, r))
  assert.match(r.stderr, /Error/, `no error on stderr:\n${show(args, r)}`)
  assert.match(r.stderr, message, `stderr does not say what is wrong:\n${show(args, r)}`)
  assertNoStack(args, r)
}

/** With --json: exit 2, stdout is exactly one JSON `{"error": {message, exit: 2, …}}`, no stack trace. */
function assertJsonUsageError(args: string[], r: CliResult, message: RegExp): void {
  assert.equal(r.code, 2, show(args, r))
  let doc: unknown
  try {
    doc = JSON.parse(r.stdout)
  } catch {
    assert.fail(`stdout is not one JSON document:\n${show(args, r)}`)
  }

  const error = (doc as {error?: {message?: unknown; exit?: unknown}} | null)?.error
  assert.ok(typeof error === 'object' && error !== null, `stdout is not {"error": {…}}:\n${show(args, r)}`)
  assert.equal(typeof error.message, 'string', show(args, r))
  assert.match(String(error.message), message, `the JSON error does not say what is wrong:\n${show(args, r)}`)
  assert.equal(error.exit, 2, show(args, r))
  assertNoStack(args, r)
}

/** Run `cases` `CONCURRENCY` at a time; every failure is collected, then reported together. */
async function inBatches<T>(cases: T[], fn: (c: T) => Promise<void>): Promise<void> {
  const failures: string[] = []
  for (let i = 0; i < cases.length; i += CONCURRENCY) {
    await Promise.all(
      cases.slice(i, i + CONCURRENCY).map(async (c) => {
        try {
          await fn(c)
        } catch (error) {
          failures.push((error as Error).message)
        }
      }),
    )
  }

  if (failures.length > 0)
    assert.fail(`${failures.length} of ${cases.length} case(s) failed:\n\n${failures.join('\n\n')}`)
}

/** The command with its required arguments and flags filled in, so that only what a case adds is wrong. */
function validArgv(id: string, allArgs = false): string[] {
  const command = manifest.commands[id]
  const argv = id.split(':')
  for (const [name, arg] of Object.entries(command.args ?? {}))
    if (arg.required || allArgs) argv.push(`placeholder-${name}`)
  for (const [name, flag] of Object.entries(command.flags)) {
    if (!flag.required) continue
    argv.push(`--${name}`)
    // an amount in USD (the `usd` flag of src/cli/flags.ts shows its value as X) must be a number
    if (flag.type === 'option')
      argv.push(
        flag.options?.[0] ?? (name.includes('url') ? 'https://example.invalid/v1' : flag.helpValue === 'X' ? '1' : 'x'),
      )
  }

  return argv
}

/** Everything in a state directory, as text (to prove a refused secret was not written anywhere). */
function allText(dir: string): string {
  return readdirSync(dir)
    .map((name) => {
      const path = join(dir, name)
      return statSync(path).isDirectory() ? allText(path) : readFileSync(path, 'utf8')
    })
    .join('\n')
}

describe('usage errors exit 2', () => {
  const ids = Object.keys(manifest.commands).sort()

  it('the manifest lists the commands', () => {
    for (const id of [
      'balance',
      'chat',
      'env',
      'logs',
      'serve',
      'status',
      'stop',
      'usage',
      'config:get',
      'config:set',
      'tokens:add',
      'upstreams:add',
    ])
      assert.ok(manifest.commands[id], id)
  })

  it('every command refuses an unknown flag', async () => {
    await inBatches(ids, (id) =>
      inFreshHome(async (home) => {
        const args = [...validArgv(id), '--definitely-not-a-flag']
        assertUsageError(args, await cli(args, home), /definitely-not-a-flag/)
      }),
    )
  })

  it('every command refuses an unknown flag with --json, as a JSON error', async () => {
    await inBatches(ids, (id) =>
      inFreshHome(async (home) => {
        const args = [...validArgv(id), '--definitely-not-a-flag', '--json']
        assertJsonUsageError(args, await cli(args, home), /definitely-not-a-flag/)
      }),
    )
  })

  // commands that take a fixed number of arguments (not lists of labels)
  const strict = ids.filter((id) => manifest.commands[id].strict !== false)

  it('every command with a fixed number of arguments refuses one more', async () => {
    await inBatches(strict, (id) =>
      inFreshHome(async (home) => {
        const args = [...validArgv(id, true), 'one-too-many']
        assertUsageError(args, await cli(args, home), /one-too-many/)
      }),
    )
  })

  it('every command with a fixed number of arguments refuses one more with --json, as a JSON error', async () => {
    await inBatches(strict, (id) =>
      inFreshHome(async (home) => {
        const args = [...validArgv(id, true), 'one-too-many', '--json']
        assertJsonUsageError(args, await cli(args, home), /one-too-many/)
      }),
    )
  })

  /** [args, what the error must mention] */
  const CASES: Array<[string[], RegExp]> = [
    // missing required arguments and flags
    [['tokens', 'add', '--kind', 'api-key'], /label/],
    [['tokens', 'add', 'work'], /kind/],
    [['upstreams', 'add', 'x', '--base-url', 'https://example.invalid/v1'], /protocol/],
    [['upstreams', 'add', 'x', '--protocol', 'openai'], /base-url/],
    [['upstreams', 'add', 'x'], /protocol|base-url/],
    [['config', 'set', 'server.port'], /value/],
    [['config', 'get'], /key/],
    // invalid values
    [['tokens', 'add', 'x', '--kind', 'nope'], /kind/],
    [['serve', '--port', '70000'], /port|65535/],
    [['serve', '--port', 'abc'], /port|integer/],
    [['usage', '--by', 'week'], /by|week/],
    [['balance', '--days', '0'], /days|greater than or equal to 1/],
    [['logs', '-n', '-1'], /lines|greater than or equal to 0/],
    [['upstreams', 'add', 'x', '--protocol', 'openai', '--base-url', 'ftp://x'], /base-url|http/],
    // too many arguments
    [['config', 'path', 'extra'], /extra/],
    [['env', 'extra'], /extra/],
    // no such command
    [['frobnicate'], /"frobnicate" is not a gptconv command/],
    [['tokens', 'frob'], /"tokens frob" is not a gptconv command/],
  ]

  it('refuses missing arguments, invalid values and extra arguments', async () => {
    await inBatches(CASES, ([args, message]) =>
      inFreshHome(async (home) => assertUsageError(args, await cli(args, home), message)),
    )
  })

  it('refuses them with --json too, as a JSON error on stdout', async () => {
    await inBatches(CASES, ([args, message]) =>
      inFreshHome(async (home) => {
        const withJson = [...args, '--json']
        assertJsonUsageError(withJson, await cli(withJson, home), message)
      }),
    )
  })

  it('refuses a secret given as an argument or a flag, and stores nothing', async () => {
    const attempts: string[][] = [
      ['tokens', 'add', 'work', 'sk-abc', '--kind', 'api-key'],
      ['tokens', 'add', 'work', 'sk-abc', '--kind', 'api-key', '--json'],
      ['tokens', 'add', 'work', '--kind', 'api-key', '--secret', 'sk-abc'],
      ['tokens', 'add', 'work', '--kind', 'api-key', '--key=sk-abc'],
      // --from-env takes the name of a variable, not the secret itself
      ['tokens', 'add', 'work', '--kind', 'api-key', '--from-env', 'sk-abc'],
    ]
    await inBatches(attempts, (args) =>
      inFreshHome(async (home) => {
        const r = await cli(args, home)
        assert.equal(r.code, 2, show(args, r))
        assertNoStack(args, r)
        if (args.includes('--json')) assertJsonUsageError(args, r, /sk-abc|argument/)
        const list = await cli(['tokens', 'list', '--json'], home)
        assert.equal(list.code, 0, show(['tokens', 'list', '--json'], list))
        assert.deepEqual(JSON.parse(list.stdout), [], `a token was stored by: gptconv ${args.join(' ')}`)
        assert.ok(
          !allText(home).includes('sk-abc'),
          `the refused secret was written to the state directory by: gptconv ${args.join(' ')}`,
        )
      }),
    )
  })
})
