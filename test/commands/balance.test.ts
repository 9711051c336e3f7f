import assert from 'node:assert/strict'
import {appendFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'

const KEYS = {
  oneapi: 'sk-bal-oneapi-abcdefghijklmnopqrst01',
  rootonly: 'sk-bal-rootonly-abcdefghijklmnopq02',
  grants: 'sk-bal-grants-abcdefghijklmnopqrst03',
  ledger: 'sk-bal-ledger-abcdefghijklmnopqrst04',
  nothing: 'sk-bal-nothing-abcdefghijklmnopqrs05',
  error200: 'sk-bal-error200-abcdefghijklmnopqr06',
}
const SESSION_ONLY = (path: string) => ({error: {message: `Your request to GET ${path} must be made with a session key (that is, it can only be made from the browser). You made it with the following key type: secret.`, type: 'server_error', param: null, code: null}})
const DAY = 86_400_000
const ymd = (ms: number) => new Date(ms).toISOString().slice(0, 10)
const today = () => Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate())

type Report = {tokens: Array<{label: string; source: string | null; grantedUsd: number | null; usedUsd: number | null; balanceUsd: number | null; window: {start: string; end: string}; estimated: boolean; error?: string; refused: Array<{source: string; reason: string}>}>; total: {grantedUsd: number; usedUsd: number; balanceUsd: number}}

describe('gptconv balance', () => {
  const home = tempHome()
  let server: Server
  let base = ''
  const usageQueries: Array<{key: string; start: string | null; end: string | null}> = []
  const cli = (args: string[], input?: string) => runCli(args, {home: home.dir, input})
  const balance = async (...args: string[]) => {
    const r = await cli(['balance', ...args, '--json'])
    return {code: r.code, report: JSON.parse(r.stdout) as Report}
  }

  before(async () => {
    // A billing server with one behaviour per key: one-api style, /v1 refused but the root
    // path served, OpenAI style (legacy refused, credit_grants answered), everything refused,
    // and one-api's HTTP-200 error bodies.
    server = createServer((req, res) => {
      const key = (req.headers.authorization ?? '').replace('Bearer ', '')
      const url = new URL(req.url!, 'http://x')
      const path = url.pathname
      const send = (status: number, body: unknown) => res.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(body))
      const legacy = /\/dashboard\/billing\/(subscription|usage)$/.test(path)
      if (path.endsWith('/usage')) usageQueries.push({key, start: url.searchParams.get('start_date'), end: url.searchParams.get('end_date')})
      if (key === KEYS.oneapi && legacy) return send(200, path.endsWith('subscription') ? {object: 'billing_subscription', has_payment_method: true, hard_limit_usd: 120, soft_limit_usd: 120, system_hard_limit_usd: 120, access_until: 0} : {object: 'list', total_usage: 3456})
      if (key === KEYS.rootonly && legacy) return path.startsWith('/v1/') ? send(403, SESSION_ONLY(path)) : send(200, path.endsWith('subscription') ? {hard_limit_usd: 50} : {total_usage: 1000})
      if (key === KEYS.grants && path.endsWith('/credit_grants')) return send(200, {object: 'credit_summary', total_granted: 18, total_used: 1.850212, total_available: 16.149788})
      if (key === KEYS.error200) return send(200, {error: {message: '获取配额失败', type: 'upstream_error'}})
      return send(403, SESSION_ONLY(path))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
    await cli(['upstreams', 'add', 'billing', '--protocol', 'openai', '--base-url', base])
    await cli(['upstreams', 'add', 'dead', '--protocol', 'openai', '--base-url', 'http://127.0.0.1:9/v1'])
    for (const [label, key] of Object.entries(KEYS)) {
      const extra = label === 'ledger' ? ['--granted-usd', '10'] : []
      assert.equal((await cli(['tokens', 'add', label, '--kind', 'api-key', '--upstream', 'billing', ...extra], key)).code, 0)
    }

    await cli(['tokens', 'add', 'offline', '--kind', 'api-key', '--upstream', 'dead'], 'sk-bal-offline-abcdefghijklmnopqr07')
    // what the daemon would have recorded for "ledger": 100k prompt + 10k completion tokens of gpt-4o, and an old record outside the window
    const record = (ts: number, prompt: number, completion: number) => JSON.stringify({ts: new Date(ts).toISOString(), token: 'ledger', upstream: 'billing', model: 'gpt-4o', endpoint: 'chat', prompt_tokens: prompt, completion_tokens: completion, estimated: false, status: 200, ms: 5}) + '\n'
    appendFileSync(join(home.dir, 'usage.jsonl'), record(Date.now() - DAY, 60_000, 6000) + record(Date.now() - 2 * DAY, 40_000, 4000) + record(Date.now() - 200 * DAY, 1_000_000, 0) + 'not json\n')
  })
  after(() => {
    server.close()
    home.cleanup()
  })

  it('subscription + usage: granted 120, used 34.56 (cents), balance 85.44, over the 90-day window it asked for', async () => {
    const {code, report} = await balance('oneapi')
    assert.equal(code, 0)
    assert.deepEqual(report.tokens[0], {
      label: 'oneapi',
      source: 'subscription',
      grantedUsd: 120,
      usedUsd: 34.56,
      balanceUsd: 85.44,
      window: {start: ymd(today() - 90 * DAY), end: ymd(today() + DAY)},
      estimated: false,
      refused: [],
    })
    assert.deepEqual(usageQueries.filter((q) => q.key === KEYS.oneapi).at(-1), {key: KEYS.oneapi, start: ymd(today() - 90 * DAY), end: ymd(today() + DAY)})
  })

  it('tries the path without /v1 when the /v1 one is refused', async () => {
    const {report} = await balance('rootonly')
    assert.deepEqual([report.tokens[0].source, report.tokens[0].grantedUsd, report.tokens[0].usedUsd, report.tokens[0].balanceUsd], ['subscription', 50, 10, 40])
  })

  it('falls through to credit_grants (dollars) and says why the first source was refused', async () => {
    const {code, report} = await balance('grants')
    assert.equal(code, 0)
    const t = report.tokens[0]
    assert.deepEqual([t.source, t.grantedUsd, t.usedUsd, t.balanceUsd, t.estimated], ['credit_grants', 18, 1.850212, 16.149788, false])
    assert.equal(t.refused[0].source, 'subscription')
    assert.match(t.refused[0].reason, /403: Your request to GET \/v1\/dashboard\/billing\/subscription must be made with a session key/)
  })

  it('falls back to --granted-usd minus the ledger cost, marked estimated', async () => {
    const {report} = await balance('ledger')
    const t = report.tokens[0]
    // gpt-tokenizer prices gpt-4o at $10 in / $30 out per million: 100k in + 10k out = $1.30
    assert.deepEqual([t.source, t.grantedUsd, t.usedUsd, t.balanceUsd, t.estimated], ['ledger', 10, 1.3, 8.7, true])
    assert.deepEqual(t.refused.map((r) => r.source), ['subscription', 'credit_grants'])
  })

  it('does not take one-api\'s HTTP 200 error bodies for an answer', async () => {
    const {code, report} = await balance('error200')
    assert.equal(code, 1)
    assert.equal(report.tokens[0].source, null)
    assert.match(report.tokens[0].error ?? '', /subscription: .*answered an error: 获取配额失败/)
  })

  it('exits 1 when a token gets no answer, still reporting the others, and says why', async () => {
    const {code, report} = await balance('oneapi', 'nothing', 'offline')
    assert.equal(code, 1)
    assert.deepEqual(report.tokens.map((t) => t.source), ['subscription', null, null])
    assert.match(report.tokens[1].error ?? '', /ledger: no --granted-usd for this token/)
    assert.match(report.tokens[2].error ?? '', /cannot reach 127\.0\.0\.1:9: connection refused/)
    assert.deepEqual(report.total, {grantedUsd: 120, usedUsd: 34.56, balanceUsd: 85.44})
    for (const key of Object.values(KEYS)) assert.ok(!JSON.stringify(report).includes(key))
  })

  it('splits a window longer than 100 days into several usage calls and sums them', async () => {
    const before = usageQueries.length
    const {report} = await balance('oneapi', '--days', '150')
    const queries = usageQueries.slice(before).filter((q) => q.key === KEYS.oneapi)
    assert.deepEqual(queries, [
      {key: KEYS.oneapi, start: ymd(today() - 150 * DAY), end: ymd(today() - 50 * DAY)},
      {key: KEYS.oneapi, start: ymd(today() - 50 * DAY), end: ymd(today() + DAY)},
    ])
    assert.equal(report.tokens[0].usedUsd, 69.12)
  })

  it('prints a table with a total row', async () => {
    const r = await cli(['balance', 'oneapi', 'grants'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^LABEL\s+SOURCE\s+GRANTED\s+USED\s+BALANCE\s+WINDOW$/m)
    assert.match(r.stdout, /^oneapi\s+subscription\s+\$120\.00\s+\$34\.56\s+\$85\.44\s+\d{4}-\d\d-\d\d … \d{4}-\d\d-\d\d$/m)
    assert.match(r.stdout, /^total\s+\$138\.00\s+\$36\.41\s+\$101\.59/m)
  })
})

describe('gptconv usage', () => {
  const home = tempHome()
  after(() => home.cleanup())
  before(() => {
    const rec = (daysAgo: number, token: string, model: string, p: number, c: number, estimated = false, status: number | string = 200) =>
      JSON.stringify({ts: new Date(Date.now() - daysAgo * DAY).toISOString(), token, upstream: 'u', model, endpoint: 'chat', prompt_tokens: p, completion_tokens: c, estimated, status, ms: 1}) + '\n'
    appendFileSync(join(home.dir, 'usage.jsonl'), rec(1, 'a', 'gpt-4o', 1000, 100) + rec(2, 'a', 'gpt-4o', 500, 50, true) + rec(1, 'b', 'mystery-model', 10, 10, false, 'error') + rec(30, 'a', 'gpt-4o', 9999, 9999))
  })

  it('groups the ledger by token, model or day with costs', async () => {
    const byToken = JSON.parse((await runCli(['usage', '--json'], {home: home.dir})).stdout) as {rows: Array<Record<string, unknown>>; total: Record<string, number>; unpriced: string[]}
    assert.deepEqual(byToken.rows.map((r) => [r.key, r.requests, r.total_tokens, r.estimated_requests, r.errors]), [['a', 2, 1650, 1, 0], ['b', 1, 20, 0, 1]])
    assert.equal(byToken.rows[0].cost_usd, (1500 * 10 + 150 * 30) / 1e6)
    assert.deepEqual(byToken.unpriced, ['mystery-model'])
    const byDay = JSON.parse((await runCli(['usage', '--by', 'day', '--since', '60d', '--json'], {home: home.dir})).stdout) as {rows: Array<{key: string}>}
    assert.equal(byDay.rows.length, 3)
    assert.ok(byDay.rows[0].key < byDay.rows[1].key)
    const table = await runCli(['usage', '--by', 'model'], {home: home.dir})
    assert.match(table.stdout, /^gpt-4o\s+2\s+1,500\s+150\s+1,650\s+\$0\.0195\s+50%$/m)
    assert.match(table.stdout, /No price known for mystery-model/)
  })

  it('rejects a bad --since with exit 2', async () => {
    assert.equal((await runCli(['usage', '--since', 'yesterdayish'], {home: home.dir})).code, 2)
  })
})
