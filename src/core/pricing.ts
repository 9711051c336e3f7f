import {type ModelPrice, type PriceOptions, type TieredPrices, calcPrice, waitForUpdate} from '@pydantic/genai-prices'

import type {PriceOverride} from './config.js'
import type {Context} from './context.js'
import {NotFoundError, UsageError} from './errors.js'
import type {UsageRecord} from './ledger.js'
import {own} from './own.js'

/**
 * What tokens cost. Prices come from the settings' `prices` overrides (a reseller's or a
 * self-hosted model's own prices, by exact model name), else from @pydantic/genai-prices:
 * list prices per provider and model, with the date each price took effect, matched the way
 * that package matches (case-insensitive, dated snapshots such as gpt-4o-2024-08-06 priced as
 * their model, `provider/model` names as LiteLLM writes them). A model neither knows is
 * reported as unpriced, never counted as $0 and never guessed from a similar name.
 */

export type {PriceOverride}
/** Overrides by model name, as in the settings (read with own-property lookups only). */
export type PriceOverrides = Readonly<Record<string, PriceOverride>>
export type PriceSource = 'override' | 'genai-prices'

/** USD per million tokens. `tiered`: the database charges more above a prompt size; the base price is shown. */
export type Price = {
  source: PriceSource
  input: number
  cachedInput: number
  output: number
  provider: string | null
  tiered?: true
}

type Match = {override: PriceOverride} | {options: PriceOptions}

type Usage = {input_tokens?: number; cache_read_tokens?: number; output_tokens?: number}

/** calcPrice, with an entry the package cannot compute (a data error of its own) taken as no price. */
function calc(usage: Usage, model: string, options: PriceOptions): ReturnType<typeof calcPrice> {
  try {
    return calcPrice(usage, model, options)
  } catch {
    return null
  }
}

/** How the database finds a model name: as it is, else as LiteLLM's `provider/model` (the package's `litellm` provider id splits it). */
function databaseMatch(model: string): {options: PriceOptions} | undefined {
  const attempts: PriceOptions[] = model.includes('/') ? [{}, {providerId: 'litellm'}] : [{}]
  const options = attempts.find((o) => calc({}, model, o) !== null)
  return options && {options}
}

const perMillion = (value: number | TieredPrices | undefined): number | undefined =>
  typeof value === 'object' ? value.base : value

function fromDatabase(prices: ModelPrice, provider: string): Price {
  const input = perMillion(prices.input_mtok) ?? 0
  const tiered = [prices.input_mtok, prices.cache_read_mtok, prices.output_mtok].some((p) => typeof p === 'object')
  return {
    source: 'genai-prices',
    input,
    cachedInput: perMillion(prices.cache_read_mtok) ?? input,
    output: perMillion(prices.output_mtok) ?? 0,
    provider,
    ...(tiered && {tiered: true as const}),
  }
}

const fromOverride = (o: PriceOverride): Price => ({
  source: 'override',
  input: o.input,
  cachedInput: o.cachedInput ?? o.input,
  output: o.output,
  provider: null,
})

/** The price of `model`'s tokens at `at` (default: now); undefined when no price is known. */
export function priceOf(model: string, overrides: PriceOverrides = {}, at = new Date()): Price | undefined {
  const override = own(overrides, model)
  if (override) return fromOverride(override)
  const match = databaseMatch(model)
  const found = match && calc({}, model, {...match.options, timestamp: at})
  return found ? fromDatabase(found.model_price, found.provider.id) : undefined
}

/**
 * Prices ledger records one by one (the price in effect at each record's time, tiers by each
 * request's prompt size), resolving each model name once.
 */
export class Pricer {
  readonly #overrides: PriceOverrides
  readonly #matches = new Map<string, Match | null>()
  readonly #unpriced = new Set<string>()
  #unpricedRequests = 0

  constructor(overrides: PriceOverrides = {}) {
    this.#overrides = overrides
  }

  /** Models seen without a price, sorted. */
  get unpriced(): string[] {
    return [...this.#unpriced].sort()
  }

  get unpricedRequests(): number {
    return this.#unpricedRequests
  }

  /** USD for one record; undefined when its model has no price (a record without tokens costs 0 anyway). */
  cost(r: UsageRecord): number | undefined {
    if (r.prompt_tokens + r.completion_tokens === 0) return 0
    const match = this.#match(r.model)
    if (!match) return this.#miss(r.model)

    // of the prompt, served from the cache; a count above the prompt is a counting error upstream
    const cached = Math.min(r.cached_tokens ?? 0, r.prompt_tokens)
    if ('override' in match) {
      const o = match.override
      return (
        ((r.prompt_tokens - cached) * o.input + cached * (o.cachedInput ?? o.input) + r.completion_tokens * o.output) /
        1e6
      )
    }

    // input_tokens counts the whole prompt, cached part included: the package prices that part at its cached rate
    const usage = {input_tokens: r.prompt_tokens, cache_read_tokens: cached, output_tokens: r.completion_tokens}
    const priced = calc(usage, r.model, {...match.options, timestamp: new Date(r.ts)})
    return priced ? priced.total_price : this.#miss(r.model)
  }

  #miss(model: string): undefined {
    this.#unpriced.add(model)
    this.#unpricedRequests++
    return undefined
  }

  #match(model: string): Match | undefined {
    if (!this.#matches.has(model)) {
      const override = own(this.#overrides, model)
      this.#matches.set(model, override ? {override} : (databaseMatch(model) ?? null))
    }

    return this.#matches.get(model) ?? undefined
  }
}

export type Cost = {usd: number; unpriced: string[]; unpricedRequests: number}

/** Float sums of per-token prices carry noise below a billionth of a dollar. */
export const roundUsd = (usd: number, digits = 9) => Math.round(usd * 10 ** digits) / 10 ** digits

/** What these ledger records cost; models without a price are listed, not counted. */
export function costOf(records: readonly UsageRecord[], overrides: PriceOverrides = {}): Cost {
  const pricer = new Pricer(overrides)
  let usd = 0
  for (const r of records) usd += pricer.cost(r) ?? 0
  return {usd: roundUsd(usd), unpriced: pricer.unpriced, unpricedRequests: pricer.unpricedRequests}
}

/** A model name as one shell word. */
const shellWord = (s: string) => (/^[\w.,:/@%+=-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`)

/** The command that prices what was left unpriced. */
export function setPriceHint(models: readonly string[]): string {
  return `gptconv prices set ${models.length === 1 ? shellWord(models[0]) : 'MODEL'} --input USD --output USD`
}

export type PriceEntry = Price & {model: string}

/**
 * The overrides, then (with `all`) every database model a request naming it would be priced
 * as (the same model under another provider, which that name never reaches, is left out), at
 * its price in effect at `at`; a name an override takes is listed once, as the override.
 */
export async function listPrices(
  overrides: PriceOverrides,
  options: {all?: boolean; at?: Date} = {},
): Promise<PriceEntry[]> {
  const entries: PriceEntry[] = Object.entries(overrides)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([model, o]) => ({model, ...fromOverride(o)}))
  if (!options.all) return entries
  const taken = new Set(entries.map((e) => e.model))
  for (const provider of (await waitForUpdate()) ?? []) {
    for (const {id} of provider.models) {
      if (taken.has(id)) continue
      const price = priceOf(id, {}, options.at)
      if (price?.provider === provider.id) {
        entries.push({model: id, ...price})
        taken.add(id)
      }
    }
  }

  return entries
}

/**
 * `gptconv prices set`: store an override for one exact model name. Any string is a name,
 * `__proto__` included, so the entry is defined as an own property, never assigned.
 */
export async function setPriceOverride(
  ctx: Context,
  model: string,
  price: PriceOverride,
): Promise<{model: string; price: PriceOverride; replaced: boolean}> {
  if (model.trim() === '') throw new UsageError('The model name is empty.')
  const stored: PriceOverride = {
    input: price.input,
    output: price.output,
    ...(price.cachedInput !== undefined && {cachedInput: price.cachedInput}),
  }
  const replaced = await ctx.config.update((settings) => {
    const had = Object.hasOwn(settings.prices, model)
    Object.defineProperty(settings.prices, model, {value: stored, enumerable: true, writable: true, configurable: true})
    return had
  })
  return {model, price: stored, replaced}
}

/** `gptconv prices unset`: the model goes back to the database's price, if it has one. */
export async function unsetPriceOverride(
  ctx: Context,
  model: string,
): Promise<{model: string; removed: PriceOverride}> {
  const removed = await ctx.config.update((settings) => {
    if (!Object.hasOwn(settings.prices, model)) return undefined
    const old = settings.prices[model]
    delete settings.prices[model]
    return old
  })
  if (!removed)
    throw new NotFoundError('GPTCONV_PRICE_NOT_FOUND', `No price override for "${model}".`, {
      hint: 'See `gptconv prices list`.',
    })
  return {model, removed}
}
