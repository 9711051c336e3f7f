import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {ROOT, runCli, tempHome} from '../helpers/cli.js'

type Manifest = {
  commands: Record<string, {examples?: unknown[]; summary?: string; flags: Record<string, {description?: string}>}>
}

describe('every command', () => {
  const home = tempHome()
  after(() => home.cleanup())
  const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as Manifest

  it('is in the generated manifest', () => {
    for (const id of [
      'tokens:add',
      'tokens:list',
      'tokens:refresh',
      'tokens:remove',
      'upstreams:add',
      'upstreams:list',
      'upstreams:remove',
      'config:get',
      'config:set',
      'config:list',
      'config:path',
    ]) {
      assert.ok(manifest.commands[id], id)
    }
  })

  it('has a summary, examples, described flags and a --json flag', () => {
    for (const [id, command] of Object.entries(manifest.commands)) {
      assert.ok(command.summary, `${id} summary`)
      assert.ok((command.examples?.length ?? 0) > 0, `${id} examples`)
      assert.ok(command.flags.json, `${id} --json`)
      for (const [name, flag] of Object.entries(command.flags))
        assert.ok(flag.description, `${id} --${name} description`)
    }
  })

  it('prints --help with its examples', async () => {
    for (const id of Object.keys(manifest.commands)) {
      const r = await runCli([...id.split(':'), '--help'], {home: home.dir})
      assert.equal(r.code, 0, id)
      assert.match(r.stdout, /EXAMPLES/, id)
      assert.match(r.stdout, new RegExp(`gptconv ${id.replace(':', ' ')}`), id)
    }
  })
})
