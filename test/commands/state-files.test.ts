import assert from 'node:assert/strict'
import {chmodSync, readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'

const KEY = 'sk-statefiles-key-abcdefghijklmnop3333'
const mode = (path: string) => statSync(path).mode & 0o777

describe('CLI commands that write state: a closed state directory, no writes through links', () => {
  const outside = tempHome('gptconv-outside-')
  after(() => outside.cleanup())

  it('closes a GPTCONV_HOME made 0777 to 0700, with a warning, and creates its files 0600', async () => {
    const home = tempHome()
    chmodSync(home.dir, 0o777)
    try {
      const r = await runCli(['tokens', 'add', 'k', '--kind', 'api-key'], {home: home.dir, input: KEY})
      assert.equal(r.code, 0, r.stderr)
      assert.match(
        r.stderr,
        new RegExp(
          `Warning: The state directory ${home.dir} was open to other users \\(mode 0777\\); gptconv made it 0700, since secrets live there\\.`,
        ),
      )
      assert.equal(mode(home.dir), 0o700)
      assert.equal(mode(join(home.dir, 'config.json')), 0o600)
      assert.equal(mode(join(home.dir, 'secrets.json')), 0o600)
    } finally {
      home.cleanup()
    }
  })

  it('refuses to put a secret into a secrets.json that is a link, naming the file; the 0644 target keeps its content', async () => {
    const home = tempHome()
    const target = join(outside.dir, 'secrets-target.json')
    const content = '{"version": 1, "secrets": {}}\n'
    writeFileSync(target, content, {mode: 0o644})
    symlinkSync(target, join(home.dir, 'secrets.json'))
    try {
      const r = await runCli(['tokens', 'add', 'k', '--kind', 'api-key'], {home: home.dir, input: KEY})
      assert.equal(r.code, 1)
      assert.match(
        r.stderr,
        new RegExp(
          `${join(home.dir, 'secrets.json').replaceAll('.', '\\.')} is a symbolic link \\(to ${target.replaceAll('.', '\\.')}\\); gptconv does not write its state through links\\.`,
        ),
      )
      assert.equal(readFileSync(target, 'utf8'), content)
      assert.ok(!r.stdout.includes(KEY) && !r.stderr.includes(KEY))
    } finally {
      home.cleanup()
    }
  })

  it('refuses to change a config.json that is a link, naming the file', async () => {
    const home = tempHome()
    const target = join(outside.dir, 'config-target.json')
    writeFileSync(target, '{}\n', {mode: 0o644})
    symlinkSync(target, join(home.dir, 'config.json'))
    try {
      const r = await runCli(['config', 'set', 'server.port', '9000'], {home: home.dir})
      assert.equal(r.code, 1)
      assert.match(r.stderr, /config\.json is a symbolic link/)
      assert.equal(readFileSync(target, 'utf8'), '{}\n')
    } finally {
      home.cleanup()
    }
  })

  it('`serve --detach` refuses a daemon.log that is a link, naming it, and starts nothing', async () => {
    const home = tempHome()
    const target = join(outside.dir, 'public.log')
    writeFileSync(target, '', {mode: 0o644})
    symlinkSync(target, join(home.dir, 'daemon.log'))
    try {
      const r = await runCli(['serve', '--demo', '--port', '0', '--detach'], {home: home.dir})
      assert.equal(r.code, 1)
      assert.match(
        r.stderr,
        /daemon\.log is a symbolic link \(to .*public\.log\); gptconv does not write its state through links\./,
      )
      assert.equal(readFileSync(target, 'utf8'), '')
      assert.equal((await runCli(['status', '--json'], {home: home.dir})).code, 1)
    } finally {
      home.cleanup()
    }
  })
})
