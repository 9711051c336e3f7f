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
  mixed: 'sk-bal-mixed-abcdefghijklmnopqrstu08',
}
const SESSION_ONLY = (path: string) => ({
  error: {
    message: `Your request to GET ${path} must be made with a session key (that is, it can only be made from the browser). You made it with the following key type: secret.`,
    type: 'server_error',
    param: null,
    code: null,
  },
})
const DAY = 86_400_000
const ymd = (ms: number) => new Date(ms).toISOString().slice(0, 10)
const today = () => Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate())

type Report = {
  tokens: Array<{
    label: string
    source: string | null
    grantedUsd: number | null
    usedUsd: number | null
    balanceUsd: number | null
    window: {start: string; end: string}
    estimated: boolean
    error?: string
    refused: Array<{source: string; reason: string}>
    unpricedModels?: string[]
  }>
  total: {grantedUsd: number | null; usedUsd: number | null; balanceUsd: number | null}
}

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
      const send = (status: number, body: unknown) =>
        res.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(body))
      const legacy = /\/dashboard\/billing\/(subscription|usage)$/.test(path)
      if (path.endsWith('/usage'))
        usageQueries.push({key, start: url.searchParams.get('start_date'), end: url.searchParams.get('end_date')})
      if (key === KEYS.oneapi && legacy)
        return send(
          200,
          path.endsWith('subscription')
            ? {
                object: 'billing_subscription',
                has_payment_method: true,
                hard_limit_usd: 120,
                soft_limit_usd: 120,
                system_hard_limit_usd: 120,
                access_until: 0,
              }
            : {object: 'list', total_usage: 3456},
        )
      if (key === KEYS.rootonly && legacy)
        return path.startsWith('/v1/')
          ? send(403, SESSION_ONLY(path))
          : send(200, path.endsWith('subscription') ? {hard_limit_usd: 50} : {total_usage: 1000})
      if (key === KEYS.grants && path.endsWith('/credit_grants'))
        return send(200, {
          object: 'credit_summary',
          total_granted: 18,
          total_used: 1.850212,
          total_available: 16.149788,
        })
      if (key === KEYS.error200) return send(200, {error: {message: '获取配额失败', type: 'upstream_error'}})
      return send(403, SESSION_ONLY(path))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
    await cli(['upstreams', 'add', 'billing', '--protocol', 'openai', '--base-url', base])
    await cli(['upstreams', 'add', 'dead', '--protocol', 'openai', '--base-url', 'http://127.0.0.1:9/v1'])
    for (const [label, key] of Object.entries(KEYS)) {
      const extra = label === 'ledger' ? ['--granted-usd', '10'] : label === 'mixed' ? ['--granted-usd', '5'] : []
      assert.equal(
        (await cli(['tokens', 'add', label, '--kind', 'api-key', '--upstream', 'billing', ...extra], key)).code,
        0,
      )
    }

    await cli(
      ['tokens', 'add', 'offline', '--kind', 'api-key', '--upstream', 'dead'],
      'sk-bal-offline-abcdefghijklmnopqr07',
    )
    // what the daemon would have recorded for "ledger": 100k prompt + 10k completion tokens of gpt-4o, and an old record outside the window
    const record = (ts: number, prompt: number, completion: number) =>
      JSON.stringify({
        ts: new Date(ts).toISOString(),
        token: 'ledger',
        upstream: 'billing',
        model: 'gpt-4o',
        endpoint: 'chat',
        prompt_tokens: prompt,
        completion_tokens: completion,
        estimated: false,
        status: 200,
        ms: 5,
      }) + '\n'
    appendFileSync(
      join(home.dir, 'usage.jsonl'),
      record(Date.now() - DAY, 60_000, 6000) +
        record(Date.now() - 2 * DAY, 40_000, 4000) +
        record(Date.now() - 200 * DAY, 1_000_000, 0) +
        'not json\n',
    )
    // "mixed": gpt-4o-mini with cached prompt tokens, a self-hosted model no database knows, and a record whose model is not a string
    const mixed = (model: unknown, prompt: number, completion: number, cached?: number) =>
      JSON.stringify({
        ts: new Date(Date.now() - DAY).toISOString(),
        token: 'mixed',
        upstream: 'billing',
        model,
        endpoint: 'chat',
        prompt_tokens: prompt,
        completion_tokens: completion,
        cached_tokens: cached,
        estimated: false,
        status: 200,
        ms: 5,
      }) + '\n'
    appendFileSync(
      join(home.dir, 'usage.jsonl'),
      mixed('gpt-4o-mini', 1_000_000, 100_000, 400_000) +
        mixed('my-org/llama-3.1:70b', 2_000_000, 0) +
        mixed(null, 5, 5),
    )
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
    assert.deepEqual(usageQueries.filter((q) => q.key === KEYS.oneapi).at(-1), {
      key: KEYS.oneapi,
      start: ymd(today() - 90 * DAY),
      end: ymd(today() + DAY),
    })
  })

  it('tries the path without /v1 when the /v1 one is refused', async () => {
    const {report} = await balance('rootonly')
    assert.deepEqual(
      [report.tokens[0].source, report.tokens[0].grantedUsd, report.tokens[0].usedUsd, report.tokens[0].balanceUsd],
      ['subscription', 50, 10, 40],
    )
  })

  it('falls through to credit_grants (dollars) and says why the first source was refused', async () => {
    const {code, report} = await balance('grants')
    assert.equal(code, 0)
    const t = report.tokens[0]
    assert.deepEqual(
      [t.source, t.grantedUsd, t.usedUsd, t.balanceUsd, t.estimated],
      ['credit_grants', 18, 1.850212, 16.149788, false],
    )
    assert.equal(t.refused[0].source, 'subscription')
    assert.match(
      t.refused[0].reason,
      /403: Your request to GET \/v1\/dashboard\/billing\/subscription must be made with a session key/,
    )
  })

  it('falls back to --granted-usd minus the ledger cost, marked estimated', async () => {
    const {report} = await balance('ledger')
    const t = report.tokens[0]
    // gpt-4o lists at $2.50 in / $10 out per million: 100k in + 10k out = $0.25 + $0.10
    assert.deepEqual([t.source, t.grantedUsd, t.usedUsd, t.balanceUsd, t.estimated], ['ledger', 10, 0.35, 9.65, true])
    assert.equal(t.unpricedModels, undefined)
    assert.deepEqual(
      t.refused.map((r) => r.source),
      ['subscription', 'credit_grants'],
    )
  })

  it("does not take one-api's HTTP 200 error bodies for an answer", async () => {
    const {code, report} = await balance('error200')
    assert.equal(code, 1)
    assert.equal(report.tokens[0].source, null)
    assert.match(report.tokens[0].error ?? '', /subscription: .*answered an error: 获取配额失败/)
  })

  it('exits 1 when a token gets no answer, still reporting the others, and says why', async () => {
    const {code, report} = await balance('oneapi', 'nothing', 'offline')
    assert.equal(code, 1)
    assert.deepEqual(
      report.tokens.map((t) => t.source),
      ['subscription', null, null],
    )
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

  it('marks an estimate that leaves out unpriced models, then uses the override set for them', async () => {
    const before = await cli(['balance', 'mixed'])
    // 600k × $0.15 + 400k cached × $0.075 + 100k × $0.60 = $0.09 + $0.03 + $0.06; the self-hosted model is left out
    assert.match(before.stdout, /^mixed\s+ledger \(estimated\)\s+\$5\.00\s+\$0\.18\*\s+\$4\.82\*/m)
    assert.match(before.stdout, /^total\s+\$5\.00\s+\$0\.18\*\s+\$4\.82\*$/m)
    assert.match(
      before.stdout,
      /^mixed: no price known for my-org\/llama-3\.1:70b: its usage is not counted \(set a price with `gptconv prices set my-org\/llama-3\.1:70b --input USD --output USD`, USD per million tokens\)$/m,
    )
    assert.match(
      before.stderr,
      /Skipped 2 unreadable records in .*usage\.jsonl \(line 4: not JSON; line 7: `model` is not a string\)/,
    )
    assert.equal(before.stderr.match(/Skipped/g)?.length, 1)
    let {report} = await balance('mixed')
    assert.deepEqual(
      [report.tokens[0].usedUsd, report.tokens[0].balanceUsd, report.tokens[0].unpricedModels],
      [0.18, 4.82, ['my-org/llama-3.1:70b']],
    )

    assert.equal((await cli(['prices', 'set', 'my-org/llama-3.1:70b', '--input', '0.5', '--output', '1'])).code, 0)
    ;({report} = await balance('mixed'))
    // + 2M × $0.50
    assert.deepEqual(report.tokens[0], {
      label: 'mixed',
      source: 'ledger',
      grantedUsd: 5,
      usedUsd: 1.18,
      balanceUsd: 3.82,
      window: report.tokens[0].window,
      estimated: true,
      refused: report.tokens[0].refused,
    })
    assert.match((await cli(['balance', 'mixed'])).stdout, /^total\s+\$5\.00\s+\$1\.18\s+\$3\.82$/m)
  })

  it('says "unknown", not $0.00, when no token got an answer, and each reason once', async () => {
    const {code, report} = await balance('nothing', 'offline')
    assert.equal(code, 1)
    assert.deepEqual(report.total, {grantedUsd: null, usedUsd: null, balanceUsd: null})
    assert.equal(
      report.tokens[1].error,
      'subscription, credit_grants: cannot reach 127.0.0.1:9: connection refused | ledger: no --granted-usd for this token (gptconv tokens add offline --granted-usd X --force)',
    )
    const text = await cli(['balance', 'nothing', 'offline'])
    assert.equal(text.code, 1)
    assert.match(text.stdout, /^total\s+unknown\s+unknown\s+unknown$/m)
    assert.equal(text.stdout.match(/connection refused/g)?.length, 1)
  })

  it('prints a table with a total row', async () => {
    const r = await cli(['balance', 'oneapi', 'grants'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^LABEL\s+SOURCE\s+GRANTED\s+USED\s+BALANCE\s+WINDOW$/m)
    assert.match(
      r.stdout,
      /^oneapi\s+subscription\s+\$120\.00\s+\$34\.56\s+\$85\.44\s+\d{4}-\d\d-\d\d … \d{4}-\d\d-\d\d$/m,
    )
    assert.match(r.stdout, /^total\s+\$138\.00\s+\$36\.41\s+\$101\.59/m)
  })
})

describe('gptconv usage', () => {
  const home = tempHome()
  after(() => home.cleanup())
  before(() => {
    const rec = (
      daysAgo: number,
      token: string,
      model: string,
      p: number,
      c: number,
      extra: Record<string, unknown> = {},
    ) =>
      JSON.stringify({
        ts: new Date(Date.now() - daysAgo * DAY).toISOString(),
        token,
        upstream: 'u',
        model,
        endpoint: 'chat',
        prompt_tokens: p,
        completion_tokens: c,
        estimated: false,
        status: 200,
        ms: 1,
        ...extra,
      }) + '\n'
    appendFileSync(
      join(home.dir, 'usage.jsonl'),
      rec(1, 'a', 'gpt-4o-mini', 1_000_000, 500_000, {cached_tokens: 200_000, reasoning_tokens: 100_000}) +
        // written before gptconv knew cached and reasoning tokens
        rec(2, 'a', 'gpt-4o', 100_000, 10_000, {estimated: true}) +
        rec(1, 'b', 'mystery-model', 10, 10, {status: 'error'}) +
        rec(1, 'b', 'gpt-4.1', 1_000_000, 100_000, {cached_tokens: 500_000}) +
        rec(30, 'a', 'gpt-4o', 9999, 9999) +
        JSON.stringify({ts: new Date().toISOString(), token: 'a', prompt_tokens: 1, completion_tokens: 1}) +
        '\n',
    )
  })

  type Report = {rows: Array<Record<string, unknown>>; total: Record<string, number>; unpriced: string[]}
  const usage = async (...args: string[]) => {
    const r = await runCli(['usage', ...args, '--json'], {home: home.dir})
    return {...r, report: JSON.parse(r.stdout) as Report}
  }

  it('groups the ledger by token with exact costs, cached input at its price, and unpriced models apart', async () => {
    const {code, stderr, report} = await usage()
    assert.equal(code, 0)
    // a: 800k × $0.15 + 200k × $0.075 + 500k × $0.60 (gpt-4o-mini) + 100k × $2.50 + 10k × $10 (gpt-4o) = $0.435 + $0.35
    // b: 500k × $2 + 500k × $0.50 + 100k × $8 (gpt-4.1) = $2.05; mystery-model has no price
    assert.deepEqual(report.rows, [
      {
        key: 'a',
        requests: 2,
        errors: 0,
        prompt_tokens: 1_100_000,
        completion_tokens: 510_000,
        cached_tokens: 200_000,
        reasoning_tokens: 100_000,
        total_tokens: 1_610_000,
        estimated_requests: 1,
        unpriced_requests: 0,
        cost_usd: 0.785,
      },
      {
        key: 'b',
        requests: 2,
        errors: 1,
        prompt_tokens: 1_000_010,
        completion_tokens: 100_010,
        cached_tokens: 500_000,
        reasoning_tokens: 0,
        total_tokens: 1_100_020,
        estimated_requests: 0,
        unpriced_requests: 1,
        cost_usd: 2.05,
      },
    ])
    assert.deepEqual([report.total.requests, report.total.cost_usd, report.total.unpriced_requests], [4, 2.835, 1])
    assert.deepEqual(report.unpriced, ['mystery-model'])
    assert.match(stderr, /Skipped 1 unreadable record in .*usage\.jsonl \(line 6: `upstream` is not a string\)/)
  })

  it('prints unpriced models as unpriced, not $0, with the command that prices them', async () => {
    const byModel = await runCli(['usage', '--by', 'model'], {home: home.dir})
    assert.equal(byModel.code, 0)
    assert.match(
      byModel.stdout,
      /^MODEL\s+REQUESTS\s+PROMPT\s+CACHED\s+COMPLETION\s+REASONING\s+TOTAL\s+COST\s+ESTIMATED$/m,
    )
    assert.match(
      byModel.stdout,
      /^gpt-4o-mini\s+1\s+1,000,000\s+200,000\s+500,000\s+100,000\s+1,500,000\s+\$0\.4350\s+-$/m,
    )
    assert.match(byModel.stdout, /^gpt-4o\s+1\s+100,000\s+0\s+10,000\s+0\s+110,000\s+\$0\.3500\s+100%$/m)
    assert.match(byModel.stdout, /^mystery-model\s+1\s+10\s+0\s+10\s+0\s+20\s+unpriced\s+-$/m)
    assert.match(
      byModel.stdout,
      /^total\s+4\s+2,100,010\s+700,000\s+610,010\s+100,000\s+2,710,020\s+\$2\.8350\*\s+25%$/m,
    )
    assert.match(byModel.stdout, /^\* No price known for mystery-model: the cost leaves out 1 request\.$/m)
    assert.match(
      byModel.stdout,
      /^ {2}Set a price with `gptconv prices set mystery-model --input USD --output USD` \(USD per million tokens\)\.$/m,
    )
    assert.match(
      (await runCli(['usage'], {home: home.dir})).stdout,
      /^b\s+2\s+1,000,010\s+500,000\s+100,010\s+0\s+1,100,020\s+\$2\.0500\*\s+-$/m,
    )
  })

  it('uses a price override set through the CLI', async () => {
    assert.equal(
      (await runCli(['prices', 'set', 'mystery-model', '--input', '1000', '--output', '3000'], {home: home.dir})).code,
      0,
    )
    const {report} = await usage('--by', 'model')
    // 10 × $1000 + 10 × $3000 per million
    assert.deepEqual(report.rows.find((r) => r.key === 'mystery-model')?.cost_usd, 0.04)
    assert.deepEqual([report.total.cost_usd, report.total.unpriced_requests, report.unpriced], [2.875, 0, []])
    assert.equal(
      (await runCli(['prices', 'set', 'gpt-4o', '--input', '5', '--output', '20'], {home: home.dir})).code,
      0,
    )
    // 100k × $5 + 10k × $20
    assert.equal((await usage('--by', 'model')).report.rows.find((r) => r.key === 'gpt-4o')?.cost_usd, 0.7)
  })

  it('groups by day over a longer window', async () => {
    const {report} = await usage('--by', 'day', '--since', '60d')
    assert.deepEqual(
      report.rows.map((r) => r.key),
      [30, 2, 1].map((d) => ymd(Date.now() - d * DAY)),
    )
  })

  it('rejects a bad --since with exit 2', async () => {
    assert.equal((await runCli(['usage', '--since', 'yesterdayish'], {home: home.dir})).code, 2)
  })
})
