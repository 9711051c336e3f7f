import {readLedger} from '../../core/ledger.js'
import {usePriceData} from '../../core/price-data.js'
import {Pricer} from '../../core/pricing.js'
import {badRequest} from '../errors.js'
import {sendJson} from '../http.js'
import type {RequestContext} from '../router.js'

/**
 * Billing emulation for chat UIs that show a balance (ChatGPT-Next-Web and the like), in
 * the shapes OpenAI's /dashboard/billing endpoints used: amounts granted are USD, usage is in
 * US cents. Granted is the sum of the pool's `--granted-usd`; usage comes from the ledger,
 * priced with the price overrides of the live settings (a `gptconv prices set` applies at
 * once) and the price database. Models with no known price cost nothing here and are logged.
 */

const DAY = 86_400_000
const cents4 = (cents: number) => Math.round(cents * 1e4) / 1e4

/** `GET /dashboard/billing/subscription` (also under the API prefix). */
export async function billingSubscription(rc: RequestContext): Promise<void> {
  const granted = rc.daemon.registry.tokens.reduce((sum, t) => sum + (t.grantedUsd ?? 0), 0)
  sendJson(rc.res, 200, {
    object: 'billing_subscription',
    has_payment_method: true,
    canceled: false,
    canceled_at: null,
    delinquent: null,
    access_until: 0,
    soft_limit_usd: granted,
    hard_limit_usd: granted,
    system_hard_limit_usd: granted,
    plan: {title: 'gptconv pool', id: 'gptconv'},
    account_name: 'gptconv',
    po_number: null,
    billing_email: null,
    tax_ids: null,
    billing_address: null,
    business_address: null,
  })
}

function date(rc: RequestContext, name: string): number {
  const value = rc.query.get(name)
  if (!value || !/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)))
    throw badRequest(`\`${name}\` is required, as YYYY-MM-DD.`, name)
  return Date.parse(`${value}T00:00:00Z`)
}

/** `GET /dashboard/billing/usage?start_date=…&end_date=…`: at most 100 days, end exclusive. */
export async function billingUsage(rc: RequestContext): Promise<void> {
  const start = date(rc, 'start_date')
  const end = date(rc, 'end_date')
  if (end <= start) throw badRequest('`end_date` must be after `start_date`.', 'end_date')
  if (end - start > 100 * DAY) throw badRequest('Usage can be queried for at most 100 days at a time.', 'end_date')
  rc.daemon.ledger.flush()
  const records = (await readLedger(rc.daemon.ctx.paths.ledger, start, (message) => rc.log.warn(message))).filter(
    (r) => Date.parse(r.ts) < end,
  )
  await usePriceData(rc.daemon.ctx)
  const pricer = new Pricer(rc.daemon.registry.settings.prices)
  // cents per model per day; Maps, since a model may be named anything (`__proto__` included)
  const days = new Map<number, Map<string, number>>()
  for (const r of records) {
    const day = Math.floor(Date.parse(r.ts) / DAY) * DAY
    const byModel = days.get(day) ?? new Map<string, number>()
    byModel.set(r.model, (byModel.get(r.model) ?? 0) + (pricer.cost(r) ?? 0) * 100)
    days.set(day, byModel)
  }

  if (pricer.unpriced.length > 0)
    rc.log.warn(
      {models: pricer.unpriced},
      'billing usage leaves out models with no known price (set one with `gptconv prices set`)',
    )
  let totalCents = 0
  const dailyCosts = []
  for (const [day, byModel] of [...days].sort(([a], [b]) => a - b)) {
    const lineItems = []
    for (const [model, cents] of byModel) {
      totalCents += cents
      lineItems.push({name: model, cost: cents4(cents)})
    }

    dailyCosts.push({timestamp: day / 1000, line_items: lineItems})
  }

  sendJson(rc.res, 200, {object: 'list', daily_costs: dailyCosts, total_usage: cents4(totalCents)})
}
