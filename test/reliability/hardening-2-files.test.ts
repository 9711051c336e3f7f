import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {pino} from 'pino'

import {createContext} from '../../src/core/context.js'
import {startDaemon} from '../../src/daemon/server.js'
import {tempHome} from '../helpers/cli.js'
import {startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'

const KEY = 'sk-files-key-abcdefghijklmnopqrst4444'
const mode = (path: string) => statSync(path).mode & 0o777

describe('hardening 2: the daemon keeps its state directory closed and writes through no link', () => {
  const outside = tempHome('gptconv-outside-')
  after(() => outside.cleanup())

  for (const name of ['usage.jsonl', 'state.json', 'sessions.json', 'daemon.json', 'daemon.log', 'secrets.json']) {
    it(`refuses to start while ${name} is a link, naming it, and writes nothing to its 0644 target`, async () => {
      const home = tempHome('gptconv-link-')
      const target = join(outside.dir, `${name}.target`)
      const before = name === 'secrets.json' ? '{"version": 1, "secrets": {}}\n' : ''
      writeFileSync(target, before, {mode: 0o644})
      symlinkSync(target, join(home.dir, name))
      try {
        await assert.rejects(
          startTestDaemon({home: home.dir, tokens: [{label: 'k', secret: KEY}]}),
          (error: Error & {code?: string}) => {
            assert.equal(error.code, 'GPTCONV_STATE_UNSAFE')
            assert.match(
              error.message,
              new RegExp(`^${join(home.dir, name).replaceAll('.', '\\.')} is a symbolic link \\(to `),
            )
            return true
          },
        )
        assert.equal(readFileSync(target, 'utf8'), before)
      } finally {
        home.cleanup()
      }
    })
  }

  it('refuses to start while responses/ is a link to another directory', async () => {
    const home = tempHome('gptconv-link-')
    const target = join(outside.dir, 'responses-target')
    mkdirSync(target)
    symlinkSync(target, join(home.dir, 'responses'))
    try {
      await assert.rejects(startTestDaemon({home: home.dir}), {code: 'GPTCONV_STATE_UNSAFE'})
      assert.deepEqual(readdirSync(target), [])
    } finally {
      home.cleanup()
    }
  })

  it('a responses/ directory linked away while it runs receives no stored response', async () => {
    const fake = await FakeOpenAI.start({keys: [KEY]})
    const gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: fake.baseUrl}},
      tokens: [{label: 'k', secret: KEY, upstream: 'fake'}],
    })
    const target = join(outside.dir, 'planted')
    mkdirSync(target)
    symlinkSync(target, join(gw.home, 'responses'))
    try {
      const res = await gw.api('/v1/responses', {method: 'POST', json: {model: 'gpt-4o-mini', input: 'hello'}})
      assert.equal(res.status, 200)
      await res.json()
      await gw.daemon.close()
      assert.deepEqual(readdirSync(target), [])
      assert.ok(gw.logs.some((l) => l.includes('cannot store a response') && l.includes('is a symbolic link')))
    } finally {
      await gw.stop()
      await fake.close()
    }
  })

  it('closes a GPTCONV_HOME made 0777 to 0700 with a warning in the log, and an old 0644 ledger to 0600', async () => {
    const home = tempHome('gptconv-open-')
    chmodSync(home.dir, 0o777)
    writeFileSync(join(home.dir, 'usage.jsonl'), '', {mode: 0o644})
    chmodSync(join(home.dir, 'usage.jsonl'), 0o644)
    const logs: string[] = []
    const ctx = createContext({
      env: {GPTCONV_HOME: home.dir, GPTCONV_SECRET_STORE: 'file', GPTCONV_KEYCHAIN_SERVICE: 'gptconv-test-unused'},
    })
    const daemon = await startDaemon({
      ctx,
      log: pino({level: 'debug', base: {}}, {write: (line: string) => logs.push(line)}),
      host: '127.0.0.1',
      port: 0,
    })
    try {
      assert.equal(mode(home.dir), 0o700)
      assert.equal(mode(join(home.dir, 'usage.jsonl')), 0o600)
      const warning = logs
        .map((l) => JSON.parse(l) as {level: number; msg: string})
        .find((l) => l.msg.startsWith('The state directory'))
      assert.deepEqual(
        {level: warning?.level, msg: warning?.msg},
        {
          level: 40,
          msg: `The state directory ${home.dir} was open to other users (mode 0777); gptconv made it 0700, since secrets live there.`,
        },
      )
    } finally {
      await daemon.close()
      home.cleanup()
    }
  })
})
