import type {UsageRecord} from './ledger.js'

/**
 * Cost estimates from gpt-tokenizer's price table (USD per million tokens). A model name
 * is looked up as it is, then without a date suffix. Models the table has no price for are
 * reported, never guessed.
 */
type Price = {input: number; output: number}
type Spec = {price_data?: {main?: {input?: number; output?: number}}}

let table: Promise<Record<string, Spec>> | undefined

async function priceTable(): Promise<Record<string, Spec>> {
  table ??= import('gpt-tokenizer/models') as unknown as Promise<Record<string, Spec>>
  return table
}

export async function priceOf(model: string): Promise<Price | undefined> {
  const prices = await priceTable()
  const lookup = (name: string) => {
    const main = prices[name]?.price_data?.main
    return main && typeof main.input === 'number' ? {input: main.input, output: main.output ?? main.input} : undefined
  }

  // a dated snapshot (gpt-4o-2024-08-06, gpt-3.5-turbo-instruct-0914) costs what its model costs;
  // nothing else is inferred from a name: gpt-4o-mini is not priced as gpt-4o
  return lookup(model) ?? lookup(model.replace(/-(\d{4}-\d{2}-\d{2}|\d{4})$/, ''))
}

export type Cost = {usd: number; unpriced: string[]}

/** What these ledger records cost, by the price table; models without a price are listed. */
export async function costOf(records: readonly UsageRecord[]): Promise<Cost> {
  const prices = new Map<string, Price | undefined>()
  const unpriced = new Set<string>()
  let usd = 0
  for (const r of records) {
    if (!prices.has(r.model)) prices.set(r.model, await priceOf(r.model))
    const price = prices.get(r.model)
    if (!price) {
      if (r.prompt_tokens + r.completion_tokens > 0) unpriced.add(r.model)
      continue
    }

    usd += (r.prompt_tokens * price.input + r.completion_tokens * price.output) / 1e6
  }

  return {usd, unpriced: [...unpriced].sort()}
}
