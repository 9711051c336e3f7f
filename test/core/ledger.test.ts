import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {LedgerWriter, readLedger, recordProblem} from '../../src/core/ledger.js'
import {tempHome} from '../helpers/cli.js'

/** A record as gptconv wrote them before it knew cached and reasoning tokens. */
const OLD = {
  ts: '2026-01-10T08:00:00.000Z',
  token: 'a',
  upstream: 'u',
  model: 'gpt-4o',
  endpoint: 'chat',
  prompt_tokens: 100,
  completion_tokens: 10,
  estimated: false,
  status: 200,
  ms: 5,
}
const NEW = {...OLD, ts: '2026-01-11T08:00:00.000Z', cached_tokens: 40, reasoning_tokens: 3}

describe('ledger reader', () => {
  const home = tempHome()
  after(() => home.cleanup())
  const file = (name: string, lines: unknown[]) => {
    const path = join(home.dir, name)
    writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n')
    return path
  }

  it('reads records from before and after cached and reasoning tokens, from a time on', async () => {
    const path = file('mixed.jsonl', [OLD, NEW, {...NEW, cached_tokens: null}])
    assert.deepEqual(await readLedger(path), [OLD, NEW, {...OLD, ts: NEW.ts, reasoning_tokens: 3}])
    assert.deepEqual(await readLedger(path, Date.parse('2026-01-11T00:00:00Z')), [
      NEW,
      {...OLD, ts: NEW.ts, reasoning_tokens: 3},
    ])
  })

  it('skips records of the wrong shape and says which, once', async () => {
    const {model: _, ...noModel} = OLD
    const path = file('bad.jsonl', [
      OLD,
      noModel,
      {...OLD, model: 42},
      '{"ts": "2026-01-1',
      {...OLD, prompt_tokens: '100'},
      {...OLD, cached_tokens: -1},
      NEW,
    ])
    const warnings: string[] = []
    assert.deepEqual(await readLedger(path, 0, (m) => warnings.push(m)), [OLD, NEW])
    assert.deepEqual(warnings, [
      `Skipped 5 unreadable records in ${path} (line 2: \`model\` is not a string; line 3: \`model\` is not a string; line 4: not JSON; …).`,
    ])
  })

  it('names what is wrong with a record', () => {
    assert.equal(recordProblem(OLD), undefined)
    assert.equal(recordProblem(NEW), undefined)
    assert.equal(recordProblem({...OLD, status: 'error'}), undefined)
    assert.equal(recordProblem([OLD]), 'not a JSON object')
    assert.equal(recordProblem({...OLD, ts: 'yesterday'}), '`ts` is not a timestamp')
    assert.equal(
      recordProblem({...OLD, completion_tokens: Number.NaN}),
      '`completion_tokens` is not a non-negative number',
    )
    assert.equal(recordProblem({...OLD, reasoning_tokens: '3'}), '`reasoning_tokens` is not a non-negative number')
    assert.equal(recordProblem({...OLD, estimated: 'no'}), '`estimated` is not a boolean')
    assert.equal(recordProblem({...OLD, status: 'failed'}), '`status` is neither a number nor "error"')
  })

  it('reads a missing ledger as empty', async () => {
    assert.deepEqual(await readLedger(join(home.dir, 'none.jsonl')), [])
  })

  it('reads back what the writer wrote', async () => {
    const path = join(home.dir, 'written.jsonl')
    const writer = new LedgerWriter(path)
    writer.append(OLD)
    writer.append({...NEW})
    await writer.close()
    assert.deepEqual(await readLedger(path), [OLD, NEW])
  })
})
