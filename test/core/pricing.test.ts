import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {UsageRecord} from '../../src/core/ledger.js'
import {costOf, priceOf} from '../../src/core/pricing.js'

describe('pricing: gpt-tokenizer prices, never guessed from a name', () => {
  it('prices a dated snapshot as its model', async () => {
    const base = await priceOf('gpt-4o')
    assert.ok(base, 'gpt-4o has a price in the table')
    assert.deepEqual(await priceOf('gpt-4o-2099-01-31'), base)
    assert.deepEqual(await priceOf('gpt-3.5-turbo-instruct-0914'), await priceOf('gpt-3.5-turbo-instruct'))
  })

  it('does not price a model as the one its name starts with', async () => {
    // gpt-4o-mini costs a small fraction of gpt-4o: priced as gpt-4o, balances would be far too low
    assert.notDeepEqual(await priceOf('gpt-4o-mini'), await priceOf('gpt-4o'))
    assert.equal(await priceOf('gpt-4o-supersized'), undefined)
    assert.equal(await priceOf('gpt-4-imaginary'), undefined)
  })

  it('lists the models it has no price for instead of counting them', async () => {
    const record = (model: string): UsageRecord => ({ts: new Date().toISOString(), token: 't', upstream: 'u', model, endpoint: 'chat', prompt_tokens: 1_000_000, completion_tokens: 0, estimated: false, status: 200, ms: 1})
    const cost = await costOf([record('gpt-4o'), record('gpt-4o-supersized')])
    assert.equal(cost.usd, (await priceOf('gpt-4o'))!.input)
    assert.deepEqual(cost.unpriced, ['gpt-4o-supersized'])
  })
})
