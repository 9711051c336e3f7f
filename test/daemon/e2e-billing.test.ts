import assert from 'node:assert/strict'
import {appendFileSync} from 'node:fs'
import {after, before, describe, it} from 'node:test'
import {Ajv} from 'ajv'

import {runCli} from '../helpers/cli.js'
import {type TestDaemon, startTestDaemon} from '../helpers/daemon.js'

const DAY = 86_400_000
const ymd = (ms: number) => new Date(ms).toISOString().slice(0, 10)

/** The shapes OpenAI's billing endpoints used (docs/protocols.md §6.1–6.2); chat UIs read these fields. */
const ajv = new Ajv({allErrors: true})
const subscriptionShape = ajv.compile({
  type: 'object',
  required: [
    'object',
    'has_payment_method',
    'hard_limit_usd',
    'soft_limit_usd',
    'system_hard_limit_usd',
    'access_until',
    'plan',
  ],
  properties: {
    object: {const: 'billing_subscription'},
    has_payment_method: {type: 'boolean'},
    hard_limit_usd: {type: 'number'},
    soft_limit_usd: {type: 'number'},
    system_hard_limit_usd: {type: 'number'},
    access_until: {type: 'integer'},
    plan: {type: 'object', required: ['title', 'id'], properties: {title: {type: 'string'}, id: {type: 'string'}}},
  },
})
const usageShape = ajv.compile({
  type: 'object',
  required: ['object', 'daily_costs', 'total_usage'],
  properties: {
    object: {const: 'list'},
    total_usage: {type: 'number'},
    daily_costs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['timestamp', 'line_items'],
        properties: {
          timestamp: {type: 'number'},
          line_items: {
            type: 'array',
            items: {
              type: 'object',
              required: ['name', 'cost'],
              properties: {name: {type: 'string'}, cost: {type: 'number'}},
            },
          },
        },
      },
    },
  },
})

describe('daemon billing emulation', () => {
  let gw: TestDaemon
  before(async () => {
    gw = await startTestDaemon({
      upstreams: {x: {protocol: 'openai', baseUrl: 'http://127.0.0.1:9/v1'}},
      tokens: [
        {label: 'a', secret: 'sk-billing-a-abcdefghijklmnopqrstu01', upstream: 'x', grantedUsd: 100},
        {label: 'b', secret: 'sk-billing-b-abcdefghijklmnopqrstu02', upstream: 'x', grantedUsd: 20},
        {label: 'c', secret: 'sk-billing-c-abcdefghijklmnopqrstu03', upstream: 'x'},
      ],
    })
    const rec = (ts: number, token: string, p: number, c: number) =>
      JSON.stringify({
        ts: new Date(ts).toISOString(),
        token,
        upstream: 'x',
        model: 'gpt-4o',
        endpoint: 'chat',
        prompt_tokens: p,
        completion_tokens: c,
        estimated: false,
        status: 200,
        ms: 1,
      }) + '\n'
    // and a record whose model is not a string, which must not take the endpoint down
    const bad =
      JSON.stringify({
        ts: new Date().toISOString(),
        token: 'a',
        upstream: 'x',
        model: null,
        endpoint: 'chat',
        prompt_tokens: 1,
        completion_tokens: 1,
        estimated: false,
        status: 200,
        ms: 1,
      }) + '\n'
    appendFileSync(
      gw.ctx.paths.ledger,
      rec(Date.now() - DAY, 'a', 100_000, 10_000) +
        rec(Date.now(), 'b', 100_000, 0) +
        rec(Date.now() - 300 * DAY, 'a', 1_000_000, 0) +
        bad,
    )
  })
  after(() => gw?.stop())

  it("answers the subscription with the pool's granted total, with and without /v1", async () => {
    for (const path of ['/dashboard/billing/subscription', '/v1/dashboard/billing/subscription']) {
      const body = (await (await gw.api(path)).json()) as {hard_limit_usd: number}
      assert.ok(subscriptionShape(body), JSON.stringify(subscriptionShape.errors))
      assert.equal(body.hard_limit_usd, 120)
    }
  })

  it('answers usage in cents from the ledger, per day and model, for the window asked', async () => {
    const start = ymd(Date.now() - 10 * DAY)
    const end = ymd(Date.now() + DAY)
    for (const path of ['/dashboard/billing/usage', '/v1/dashboard/billing/usage']) {
      const res = await gw.api(`${path}?start_date=${start}&end_date=${end}`)
      const body = (await res.json()) as {
        total_usage: number
        daily_costs: Array<{line_items: Array<{name: string; cost: number}>}>
      }
      // read before the schema check, whose type guard would widen `body`
      const days = body.daily_costs
      assert.ok(usageShape(body), JSON.stringify(usageShape.errors))
      // gpt-4o lists at $2.50 in / $10 out per million: $0.35 (a) + $0.25 (b) = 60 cents; the 300-day-old record is outside
      assert.equal(body.total_usage, 60)
      assert.deepEqual(
        days.flatMap((d) => d.line_items.map((i) => i.name)),
        ['gpt-4o', 'gpt-4o'],
      )
    }
  })

  it('checks the window like OpenAI did: dates required, at most 100 days', async () => {
    for (const query of [
      '',
      '?start_date=2026-01-01',
      `?start_date=2025-01-01&end_date=2025-06-01`,
      '?start_date=2025-13-01&end_date=2025-12-01',
    ]) {
      const res = await gw.api(`/v1/dashboard/billing/usage${query}`)
      assert.equal(res.status, 400, query)
      assert.equal(((await res.json()) as {error: {type: string}}).error.type, 'invalid_request_error')
    }
  })

  it('prices with an override set through the CLI while it runs, without a restart', async () => {
    const query = `/dashboard/billing/usage?start_date=${ymd(Date.now() - 10 * DAY)}&end_date=${ymd(Date.now() + DAY)}`
    const total = async () => ((await (await gw.api(query)).json()) as {total_usage: number}).total_usage
    assert.equal(await total(), 60)
    const set = await runCli(['prices', 'set', 'gpt-4o', '--input', '5', '--output', '20'], {home: gw.home})
    assert.equal(set.code, 0, set.stderr)
    // the daemon re-reads the config when the file changes; wait for that, boundedly
    const deadline = Date.now() + 10_000
    let cents = await total()
    while (cents === 60 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      cents = await total()
    }

    // 200k in × $5 + 10k out × $20 per million = $1.20
    assert.equal(cents, 120)
    assert.ok(gw.logs.some((line) => line.includes('unreadable record')))
  })

  it('needs the client key', async () => {
    assert.equal((await fetch(`${gw.origin}/dashboard/billing/subscription`)).status, 401)
  })
})
