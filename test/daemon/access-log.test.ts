import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {pino} from 'pino'

import {type AccessEntry, createLogger, formatLogLine, logAccess} from '../../src/daemon/logger.js'

/** A logger writing into an array, as the daemon's does into its file. */
function capture(level: pino.Level): {log: pino.Logger; lines: string[]} {
  const lines: string[] = []
  return {log: pino({level, base: null}, {write: (line: string) => lines.push(line)}), lines}
}

const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0')

describe('the access line', () => {
  const hostile: AccessEntry = {
    id: 'req_0001',
    method: 'POST',
    path: '/v1/chat"\n{"level":60}',
    status: 200,
    ms: 3,
    token: 'team\u001b[2Ka',
    model: '__proto__\u2028',
    attempts: 2,
  }

  it('is the line pino writes for the same entry, byte for byte but the time', () => {
    for (const entry of [hostile, {id: 'req_2', method: 'GET', path: '/v1/models', status: 401, ms: 0}]) {
      const built = capture('info')
      const reference = capture('info')
      logAccess(built.log, entry)
      reference.log.info(entry, 'request')
      assert.equal(built.lines.length, 1)
      assert.equal(withoutTime(built.lines[0]), withoutTime(reference.lines[0]))
      assert.match(built.lines[0], /^\{"level":30,"time":\d+,/)
    }
  })

  it('stays one line, and a client’s newline or escape cannot forge another or reach a terminal', () => {
    const {log, lines} = capture('info')
    logAccess(log, hostile)
    assert.equal(lines[0].split('\n').length, 2) // the line and its end
    assert.deepEqual(JSON.parse(lines[0]), {level: 30, time: JSON.parse(lines[0]).time, msg: 'request', ...hostile})
    const shown = formatLogLine(lines[0].trimEnd())
    assert.ok(!shown.includes('\u001b') && !shown.includes('\n'), shown)
  })

  it('is not written below the info level', () => {
    const {log, lines} = capture('warn')
    logAccess(log, hostile)
    assert.deepEqual(lines, [])
  })
})

describe('the log file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gptconv-log-'))

  it('gathers lines up to 4 KiB into one write, and hands on the rest when flushed', async () => {
    const file = join(dir, 'batched.log')
    const log = createLogger({level: 'info', file})
    log.info('first')
    assert.equal(readFileSync(file, 'utf8'), '') // gathered, not yet written
    for (let i = 0; i < 60; i++)
      logAccess(log, {id: `req_${i}`, method: 'POST', path: '/v1/chat/completions', status: 200, ms: i})
    const written = readFileSync(file, 'utf8')
    assert.ok(written.length >= 4096, `${written.length} bytes written`)
    assert.match(written, /^\{"level":30,"time":\d+,"msg":"first"\}\n/)
    await new Promise<void>((resolve, reject) => log.flush((error) => (error ? reject(error) : resolve())))
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n')
    assert.equal(lines.length, 61)
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as {id?: string}).id).slice(1),
      Array.from({length: 60}, (_, i) => `req_${i}`),
    )
  })

  it('writes what is gathered when the process exits', () => {
    const file = join(dir, 'exit.log')
    const script = `import {createLogger} from ${JSON.stringify(new URL('../../src/daemon/logger.ts', import.meta.url).href)}
      const log = createLogger({level: 'info', file: ${JSON.stringify(file)}})
      log.info('before exit'); log.warn('the last words')`
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {timeout: 30_000})
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as {msg: string}).msg)
    assert.deepEqual(lines, ['before exit', 'the last words'])
  })
})
