import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {UnsafeStateError, ensureStateDir, refuseSymlink} from '../../src/core/paths.js'
import {openAppend, writeStateFile} from '../../src/core/state-files.js'
import {tempHome} from '../helpers/cli.js'

const mode = (path: string) => statSync(path).mode & 0o777

describe('the state directory: ours and closed to others', () => {
  const root = tempHome('gptconv-statedir-')
  after(() => root.cleanup())

  it('creates a missing directory 0700, without a warning', () => {
    const warnings: string[] = []
    const dir = join(root.dir, 'new', 'home')
    ensureStateDir(dir, (m) => warnings.push(m))
    assert.equal(mode(dir), 0o700)
    assert.deepEqual(warnings, [])
  })

  it('closes a directory of ours made 0777 to 0700, and says so', () => {
    const warnings: string[] = []
    const dir = join(root.dir, 'open')
    mkdirSync(dir)
    chmodSync(dir, 0o777)
    ensureStateDir(dir, (m) => warnings.push(m))
    assert.equal(mode(dir), 0o700)
    assert.deepEqual(warnings, [
      `The state directory ${dir} was open to other users (mode 0777); gptconv made it 0700, since secrets live there.`,
    ])
  })

  it('refuses a directory owned by another user, and leaves it as it is', () => {
    const dir = join(root.dir, 'theirs')
    mkdirSync(dir)
    chmodSync(dir, 0o755)
    const owner = statSync(dir).uid
    assert.throws(
      () => ensureStateDir(dir, () => {}, owner + 1),
      (error: unknown) => {
        assert.ok(error instanceof UnsafeStateError)
        assert.equal(error.code, 'GPTCONV_STATE_UNSAFE')
        assert.equal(
          error.message,
          `The state directory ${dir} belongs to another user (uid ${owner}, not ${owner + 1}); gptconv keeps secrets there and will not use it.`,
        )
        return true
      },
    )
    assert.equal(mode(dir), 0o755)
  })
})

describe('state files: never through a link, mode 0600', () => {
  const root = tempHome('gptconv-statefiles-')
  after(() => root.cleanup())

  it('refuses to replace a file that is a link, naming it; the target is untouched', async () => {
    const target = join(root.dir, 'elsewhere.json')
    writeFileSync(target, 'theirs\n', {mode: 0o644})
    const link = join(root.dir, 'secrets.json')
    symlinkSync(target, link)
    await assert.rejects(writeStateFile(link, 'secret\n'), {
      code: 'GPTCONV_STATE_UNSAFE',
      message: `${link} is a symbolic link (to ${target}); gptconv does not write its state through links.`,
    })
    assert.equal(readFileSync(target, 'utf8'), 'theirs\n')
    assert.throws(() => refuseSymlink(link), {code: 'GPTCONV_STATE_UNSAFE'})
  })

  it('refuses to append through a link (O_NOFOLLOW)', () => {
    const target = join(root.dir, 'public.log')
    writeFileSync(target, '', {mode: 0o644})
    const link = join(root.dir, 'daemon.log')
    symlinkSync(target, link)
    assert.throws(() => openAppend(link), {
      code: 'GPTCONV_STATE_UNSAFE',
      message: `${link} is a symbolic link; gptconv does not write its state through links.`,
    })
    assert.equal(readFileSync(target, 'utf8'), '')
  })

  it('creates files 0600 and closes an existing 0644 one it appends to', async () => {
    await writeStateFile(join(root.dir, 'state.json'), '{}\n')
    assert.equal(mode(join(root.dir, 'state.json')), 0o600)
    const ledger = join(root.dir, 'usage.jsonl')
    writeFileSync(ledger, '', {mode: 0o644})
    chmodSync(ledger, 0o644)
    openAppend(ledger)
    assert.equal(mode(ledger), 0o600)
    openAppend(join(root.dir, 'fresh.jsonl'))
    assert.equal(mode(join(root.dir, 'fresh.jsonl')), 0o600)
  })
})
