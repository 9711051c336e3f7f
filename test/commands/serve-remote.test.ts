import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {ROOT, runCli, tempHome} from '../helpers/cli.js'

type Status = {running: boolean; pid: number; url: string; listen: string; remote: boolean}

describe('serve: loopback unless told otherwise, and the real address shown', () => {
  const home = tempHome()
  const cli = (...args: string[]) => runCli(args, {home: home.dir})
  after(async () => {
    await cli('stop')
    home.cleanup()
  })

  it('refuses --host 0.0.0.0 without --allow-remote: exit 2, the reason and the way out; nothing starts', async () => {
    const r = await cli('serve', '--host', '0.0.0.0', '--port', '0', '--demo', '--detach')
    assert.equal(r.code, 2)
    assert.match(
      r.stderr,
      /Refusing to listen on 0\.0\.0\.0: it is not a loopback address, so other machines could reach the daemon/,
    )
    assert.match(r.stderr, /gptconv serve --allow-remote \(or gptconv config set server\.allowRemote true\)/)
    assert.equal((await cli('status', '--json')).code, 1)
  })

  it('refuses server.host 0.0.0.0 from the settings the same way, in the foreground too', async () => {
    assert.equal((await cli('config', 'set', 'server.host', '0.0.0.0')).code, 0)
    const r = await cli('serve', '--port', '0', '--demo')
    assert.equal(r.code, 2)
    assert.match(r.stderr, /Refusing to listen on 0\.0\.0\.0/)
    assert.equal((await cli('config', 'unset', 'server.host')).code, 0)
  })

  it('with --allow-remote it listens on 0.0.0.0, warns, and status, env, daemon.json and the log say where it listens', async () => {
    const r = await cli('serve', '--host', '0.0.0.0', '--allow-remote', '--port', '0', '--demo', '--detach')
    assert.equal(r.code, 0, r.stderr)
    assert.match(
      r.stderr,
      /Warning: listening on 0\.0\.0\.0:\d+, beyond loopback: other machines can reach this daemon/,
    )
    const status = JSON.parse((await cli('status', '--json')).stdout) as Status
    const port = new URL(status.url).port
    assert.deepEqual(
      [status.running, status.listen, status.remote, status.url],
      [true, `0.0.0.0:${port}`, true, `http://127.0.0.1:${port}/v1`],
    )
    assert.match(
      (await cli('status')).stdout,
      new RegExp(`listening on 0\\.0\\.0\\.0:${port}: beyond loopback, other machines can reach it`),
    )
    const env = await cli('env')
    assert.equal(
      env.stdout.split('\n')[0],
      `# gptconv listens on 0.0.0.0:${port}: beyond loopback, other machines can reach it`,
    )
    const exports = JSON.parse((await cli('env', '--json')).stdout) as {
      OPENAI_BASE_URL: string
      listen: string
      remote: boolean
    }
    assert.deepEqual([exports.OPENAI_BASE_URL, exports.listen, exports.remote], [status.url, `0.0.0.0:${port}`, true])
    const info = JSON.parse(readFileSync(join(home.dir, 'daemon.json'), 'utf8')) as {
      host: string
      listen: string
      remote: boolean
    }
    assert.deepEqual([info.host, info.listen, info.remote], ['0.0.0.0', `0.0.0.0:${port}`, true])
    assert.match((await cli('logs', '-n', '20')).stdout, /WARN\s+listening on 0\.0\.0\.0:\d+, beyond loopback/)
    assert.equal((await cli('stop')).code, 0)
  })

  it('on loopback, status says so', async () => {
    assert.equal((await cli('serve', '--port', '0', '--demo', '--detach')).code, 0)
    const status = JSON.parse((await cli('status', '--json')).stdout) as Status
    assert.deepEqual([status.listen, status.remote], [`127.0.0.1:${new URL(status.url).port}`, false])
    assert.equal((await cli('stop')).code, 0)
  })

  it(
    "raises the daemon's soft open-file limit as far as the hard limit allows",
    {skip: process.platform !== 'linux' && 'reads /proc'},
    async () => {
      const hard = readFileSync('/proc/self/limits', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('Max open files'))!
        .split(/\s{2,}/)[2]
      const expected = hard === 'unlimited' ? 65_536 : Math.min(65_536, Number(hard))
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home.dir,
        GPTCONV_HOME: home.dir,
        GPTCONV_SECRET_STORE: 'file',
        NO_COLOR: '1',
        OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
      }
      // the CLI started from a shell whose soft limit is 256, as many are at 1,024
      const code = await new Promise<number>((resolve) => {
        execFile(
          '/bin/sh',
          [
            '-c',
            'ulimit -Sn 256 && exec "$@"',
            'sh',
            process.execPath,
            join(ROOT, 'bin/run.js'),
            'serve',
            '--port',
            '0',
            '--demo',
            '--detach',
          ],
          {env, timeout: 30_000},
          (error) => resolve(error ? 1 : 0),
        )
      })
      assert.equal(code, 0)
      const {pid} = JSON.parse((await cli('status', '--json')).stdout) as Status
      const soft = readFileSync(`/proc/${pid}/limits`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('Max open files'))!
        .split(/\s{2,}/)[1]
      assert.equal(Number(soft), expected)
      assert.equal((await cli('stop')).code, 0)
    },
  )
})
