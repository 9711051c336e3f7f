import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdirSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {ROOT, runCli, tempHome} from '../helpers/cli.js'

/**
 * The serve banner tells the user what to run next, spelled the way they can run it from
 * where they are: `./bin/run.js …` before `npm link`, the full path from elsewhere, and
 * `gptconv …` once that command on PATH is this installation.
 */

const BIN = join(ROOT, 'bin/run.js')

describe('commands spelled the way the CLI was run', () => {
  const home = tempHome()
  // PATH holds node and, when a case asks for it, a `gptconv` that is this very bin/run.js
  const bare = join(home.dir, 'bare-path')
  const linked = join(home.dir, 'linked-path')
  mkdirSync(bare)
  mkdirSync(linked)
  symlinkSync(process.execPath, join(bare, 'node'))
  symlinkSync(process.execPath, join(linked, 'node'))
  symlinkSync(BIN, join(linked, 'gptconv'))
  const env = (path: string) => ({
    PATH: path,
    HOME: home.dir,
    GPTCONV_HOME: home.dir,
    GPTCONV_SECRET_STORE: 'file',
    NO_COLOR: '1',
    OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
  })
  after(() => home.cleanup())

  /** `serve --demo --port 0` in the foreground until its banner is complete, then SIGTERM; the banner. */
  function banner(cwd: string, path: string): Promise<string> {
    const child = spawn(process.execPath, [BIN, 'serve', '--demo', '--port', '0'], {
      cwd,
      env: env(path),
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`no banner within 20 s:\n${stderr}`))
      }, 20_000)
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
        if (stderr.includes('Ctrl-C stops it.')) child.kill('SIGTERM')
      })
      child.once('exit', () => {
        clearTimeout(timer)
        resolve(stderr.replace(/http:\/\/127\.0\.0\.1:\d+/, 'http://127.0.0.1:PORT'))
      })
    })
  }

  const tail = (cli: string) => [
    `    eval "$(${cli} env)"`,
    `    curl -s $OPENAI_BASE_URL/chat/completions -H "Authorization: Bearer $OPENAI_API_KEY" -H 'content-type: application/json' \\`,
    `      -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}'`,
  ]

  it('in the repository before `npm link`: ./bin/run.js', async () => {
    assert.deepEqual((await banner(ROOT, bare)).trimEnd().split('\n'), [
      '● gptconv 0.1.0 listening on http://127.0.0.1:PORT/v1 with the offline demo upstream — 1 token',
      `  Point clients at it (in another terminal, from ${ROOT}):`,
      ...tail('./bin/run.js'),
      '  (`npm link` in the repository puts `gptconv` on your PATH.)',
      '  Ctrl-C stops it.',
    ])
  })

  it('from another directory before `npm link`: the full path', async () => {
    const lines = (await banner(home.dir, bare)).trimEnd().split('\n')
    assert.deepEqual(lines.slice(1, 4), ['  Point clients at it (in another terminal):', ...tail(BIN).slice(0, 2)])
  })

  it('once `gptconv` on PATH is this installation: gptconv', async () => {
    assert.deepEqual((await banner(home.dir, linked)).trimEnd().split('\n'), [
      '● gptconv 0.1.0 listening on http://127.0.0.1:PORT/v1 with the offline demo upstream — 1 token',
      '  Point clients at it (in another terminal):',
      ...tail('gptconv'),
      '  Ctrl-C stops it.',
    ])
  })

  it('serve --detach names the logs command the same way', async () => {
    const start = await new Promise<{code: number | null; stdout: string}>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'serve', '--demo', '--port', '0', '--detach'], {
        cwd: ROOT,
        env: env(bare),
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      let stdout = ''
      child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
      child.once('exit', (code) => resolve({code, stdout}))
    })
    try {
      assert.equal(start.code, 0)
      assert.match(
        start.stdout,
        /^gptconv is running in the background at http:\/\/127\.0\.0\.1:\d+\/v1 \(pid \d+\); logs: \.\/bin\/run\.js logs -f\n$/,
      )
    } finally {
      assert.equal((await runCli(['stop'], {home: home.dir})).code, 0)
    }
  })
})
