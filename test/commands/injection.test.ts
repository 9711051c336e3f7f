import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {ROOT, runCli, tempHome} from '../helpers/cli.js'

/**
 * Shell and terminal injection. `eval "$(gptconv env)"` runs what env prints: every value
 * is quoted for the shell and the host is checked. Client-chosen text (model names, paths,
 * upstream error messages) reaches `logs`, tables and the foreground log: a line break
 * there would forge a line, and ESC/OSC sequences would reach the terminal, so both are
 * printed escaped.
 */

const KEY = 'sk-inject-test-abcdefghijklmnopqr0001'
const ESC = '\u001B'
const BEL = '\u0007'
// sets the terminal's title, clears the screen, and starts a line that looks like a log line
const HOSTILE = `gpt${ESC}]0;owned${BEL}${ESC}[2J\n12:00:00 INFO  forged`
const ESCAPED = String.raw`gpt\x1b]0;owned\x07\x1b[2J\n12:00:00 INFO  forged`

/** `eval "$(gptconv env)"` in a POSIX shell, then print OPENAI_BASE_URL; cwd is the state directory. */
function evalEnv(
  home: string,
  env: Record<string, string> = {},
): Promise<{code: number; stdout: string; stderr: string}> {
  const script = `eval "$(node ${ROOT}/bin/run.js env)"; printf %s "$OPENAI_BASE_URL"`
  const base = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GPTCONV_HOME: home,
    GPTCONV_SECRET_STORE: 'file',
    NO_COLOR: '1',
    OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
  }
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', script], {cwd: home, env: {...base, ...env}, timeout: 30_000}, (error, stdout, stderr) =>
      resolve({code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr}),
    )
  })
}

describe('gptconv env under eval', () => {
  const home = tempHome()
  let health: Server
  after(async () => {
    await new Promise((resolve) => (health ? health.close(resolve) : resolve(undefined)))
    home.cleanup()
  })

  it('refuses a GPTCONV_HOST that is no host name or IP address; the shell runs nothing', async () => {
    const r = await evalEnv(home.dir, {GPTCONV_HOST: "127.0.0.1';touch pwned;'"})
    assert.equal(existsSync(join(home.dir, 'pwned')), false)
    assert.equal(r.stdout, '')
    assert.equal(
      r.stderr,
      'Error: GPTCONV_HOST is "127.0.0.1\';touch pwned;\'", which is not a host name or an IP address.\nTry this: export GPTCONV_HOST=127.0.0.1 (or unset it)\n',
    )
  })

  it('refuses such a host from the settings too, and in serve', async () => {
    assert.equal((await runCli(['config', 'set', 'server.host', "x';touch pwned2;'"], {home: home.dir})).code, 0)
    const r = await evalEnv(home.dir)
    assert.equal(existsSync(join(home.dir, 'pwned2')), false)
    assert.match(
      r.stderr,
      /^Error: The setting server\.host is "x';touch pwned2;'", which is not a host name or an IP address\.$/m,
    )
    const serve = await runCli(['serve', '--host', "x';touch pwned3;'"], {home: home.dir})
    assert.equal(serve.code, 2)
    assert.match(
      serve.stderr,
      /^Error: --host \(or GPTCONV_HOST\) is "x';touch pwned3;'", which is not a host name or an IP address\.$/m,
    )
    assert.equal((await runCli(['config', 'unset', 'server.host'], {home: home.dir})).code, 0)
  })

  it('accepts host names and IP literals', async () => {
    for (const [host, url] of [
      ['localhost', 'http://localhost:8787/v1'],
      ['::1', 'http://[::1]:8787/v1'],
      ['my_service.internal', 'http://my_service.internal:8787/v1'],
    ]) {
      const r = await evalEnv(home.dir, {GPTCONV_HOST: host})
      assert.equal(r.stdout, url, r.stderr)
    }
  })

  it('quotes what it prints: a URL with a quote in it arrives in the variable as it is', async () => {
    // a running daemon's URL comes from daemon.json: here one with a quote and a command in it
    health = createServer((_req, res) =>
      res
        .writeHead(200, {'content-type': 'application/json'})
        .end(JSON.stringify({status: 'ok', version: '0', pid: process.pid, uptime_s: 1, tokens: 0, usable: 0})),
    )
    await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve))
    const origin = `http://127.0.0.1:${(health.address() as AddressInfo).port}`
    const url = `${origin}/v1';touch pwned4;'`
    writeFileSync(
      join(home.dir, 'daemon.json'),
      JSON.stringify({
        pid: process.pid,
        origin,
        url,
        host: '127.0.0.1',
        port: 1,
        apiPrefix: '/v1',
        startedAt: new Date().toISOString(),
        version: '0',
        demo: false,
      }),
    )
    const r = await evalEnv(home.dir)
    assert.equal(existsSync(join(home.dir, 'pwned4')), false)
    assert.equal(r.stdout, url)
  })
})

describe('client-chosen text is printed escaped', () => {
  const home = tempHome()
  const cli = (...args: string[]) => runCli(args, {home: home.dir, env: {TZ: 'UTC'}})
  after(() => home.cleanup())
  before(async () => {
    assert.equal((await runCli(['tokens', 'add', 'work', '--kind', 'api-key'], {home: home.dir, input: KEY})).code, 0)
  })

  it('logs: a model name with OSC, a screen clear and a line break stays on its line, escaped', async () => {
    const time = Date.UTC(2026, 0, 2, 12, 0, 1)
    const request = JSON.stringify({level: 30, time, msg: 'request', model: HOSTILE, path: `/v1/chat${ESC}[2K`})
    writeFileSync(join(home.dir, 'daemon.log'), `${request}\nnot json ${ESC}]52;c;cHduZWQ=${BEL}\n`)
    const r = await cli('logs')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(
      r.stdout,
      `12:00:01 INFO  request model=${ESCAPED} path=/v1/chat\\x1b[2K\nnot json \\x1b]52;c;cHduZWQ=\\x07\n`,
    )
    const json = await cli('logs', '--json')
    assert.equal(
      json.stdout,
      `${request}\nnot json \\x1b]52;c;cHduZWQ=\\x07\n`,
      'JSON lines as they are: JSON escapes control characters',
    )
  })

  it('usage: a hostile model name is one escaped cell of the table', async () => {
    const record = {
      ts: new Date().toISOString(),
      token: 'work',
      upstream: 'openai',
      model: HOSTILE,
      endpoint: '/v1/chat/completions',
      prompt_tokens: 3,
      completion_tokens: 4,
      estimated: false,
      status: 200,
      ms: 5,
    }
    writeFileSync(join(home.dir, 'usage.jsonl'), JSON.stringify(record) + '\n')
    const r = await cli('usage', '--by', 'model')
    assert.equal(r.code, 0, r.stderr)
    assert.ok(!r.stdout.includes(ESC) && !r.stdout.includes(BEL), JSON.stringify(r.stdout))
    const rows = r.stdout.split('\n').filter((line) => line.startsWith('gpt') || line.startsWith('total'))
    assert.equal(rows.length, 2, r.stdout)
    assert.ok(rows[0].startsWith(`${ESCAPED}  `), rows[0])
  })

  it("tokens list: an upstream's reason with escapes and a line break stays in its cell", async () => {
    const {addedAt} = (
      JSON.parse(readFileSync(join(home.dir, 'config.json'), 'utf8')) as {tokens: {work: {addedAt: string}}}
    ).tokens.work
    const reason = `HTTP 401: ${ESC}]52;c;cHduZWQ=${BEL}refused\nwork  api-key  openai  ok`
    writeFileSync(
      join(home.dir, 'state.json'),
      JSON.stringify({tokens: {work: {addedAt, disabled: {reason, at: addedAt}}}}),
    )
    const r = await cli('tokens', 'list')
    assert.equal(r.code, 0, r.stderr)
    assert.ok(!r.stdout.includes(ESC) && !r.stdout.includes(BEL), JSON.stringify(r.stdout))
    const lines = r.stdout.split('\n').filter((line) => line.startsWith('work'))
    assert.deepEqual(lines, [
      String.raw`work   api-key  openai    disabled: HTTP 401: \x1b]52;c;cHduZWQ=\x07refused\nwork  api-key  openai  ok  -        -          sk-…0001`,
    ])
  })
})
