import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {after, describe, it} from 'node:test'

import {createContext} from '../../src/core/context.js'
import type {UsageRecord} from '../../src/core/ledger.js'
import {
  type PriceOverrides,
  costOf,
  listPrices,
  priceOf,
  setPriceHint,
  setPriceOverride,
  unsetPriceOverride,
} from '../../src/core/pricing.js'
import {tempHome} from '../helpers/cli.js'

const record = (model: string, prompt: number, completion: number, extra: Partial<UsageRecord> = {}): UsageRecord => ({
  ts: '2026-01-15T12:00:00.000Z',
  token: 't',
  upstream: 'u',
  model,
  endpoint: 'chat',
  prompt_tokens: prompt,
  completion_tokens: completion,
  estimated: false,
  status: 200,
  ms: 1,
  ...extra,
})

/** Overrides as the settings hold them: parsed from JSON, so `__proto__` is an own key. */
const fromJson = (text: string) => JSON.parse(text) as PriceOverrides

describe('pricing: @pydantic/genai-prices list prices', () => {
  it('knows the prices of current OpenAI models, USD per million tokens', () => {
    assert.deepEqual(priceOf('gpt-4o-mini'), {
      source: 'genai-prices',
      input: 0.15,
      cachedInput: 0.075,
      output: 0.6,
      provider: 'openai',
    })
    assert.deepEqual(priceOf('gpt-4o'), {
      source: 'genai-prices',
      input: 2.5,
      cachedInput: 1.25,
      output: 10,
      provider: 'openai',
    })
    assert.deepEqual(priceOf('gpt-4.1'), {
      source: 'genai-prices',
      input: 2,
      cachedInput: 0.5,
      output: 8,
      provider: 'openai',
    })
    assert.deepEqual(priceOf('gpt-5'), {
      source: 'genai-prices',
      input: 1.25,
      cachedInput: 0.125,
      output: 10,
      provider: 'openai',
    })
    assert.deepEqual(priceOf('o4-mini'), {
      source: 'genai-prices',
      input: 1.1,
      cachedInput: 0.275,
      output: 4.4,
      provider: 'openai',
    })
  })

  it('prices a dated snapshot as its model, and a LiteLLM-style provider/model name', () => {
    assert.deepEqual(priceOf('gpt-4o-2024-08-06'), priceOf('gpt-4o'))
    assert.deepEqual(priceOf('gpt-4o-mini-2024-07-18'), priceOf('gpt-4o-mini'))
    assert.deepEqual(priceOf('openai/gpt-4.1'), priceOf('gpt-4.1'))
  })

  it('guesses no price from a similar name', () => {
    assert.equal(priceOf('gpt-4o-supersized'), undefined)
    assert.equal(priceOf('mystery-model'), undefined)
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty'])
      assert.equal(priceOf(name), undefined, name)
  })

  it('uses the price in effect at the time: o3 cost $10 / $40 before 2025-06-10, $2 / $8 after', () => {
    assert.deepEqual(
      [
        priceOf('o3', {}, new Date('2025-06-09T23:00:00Z'))?.input,
        priceOf('o3', {}, new Date('2025-06-09T23:00:00Z'))?.output,
      ],
      [10, 40],
    )
    const before = record('o3', 1_000_000, 1_000_000, {ts: '2025-05-01T00:00:00.000Z'})
    const since = record('o3', 1_000_000, 1_000_000, {ts: '2025-07-01T00:00:00.000Z'})
    assert.equal(costOf([before]).usd, 50)
    assert.equal(costOf([since]).usd, 10)
  })
})

describe('pricing: what ledger records cost', () => {
  it('charges cached prompt tokens the cached-input price: (prompt − cached) × input + cached × cached input + completion × output', () => {
    // 800k × $0.15 + 200k × $0.075 + 500k × $0.60 = $0.12 + $0.015 + $0.30
    assert.equal(
      costOf([record('gpt-4o-mini', 1_000_000, 500_000, {cached_tokens: 200_000, reasoning_tokens: 100_000})]).usd,
      0.435,
    )
    // 60k × $2.50 + 40k × $1.25 + 10k × $10 = $0.15 + $0.05 + $0.10
    assert.equal(costOf([record('gpt-4o', 100_000, 10_000, {cached_tokens: 40_000})]).usd, 0.3)
    // 500k × $2 + 500k × $0.50 + 100k × $8 = $1 + $0.25 + $0.80
    assert.equal(costOf([record('gpt-4.1', 1_000_000, 100_000, {cached_tokens: 500_000})]).usd, 2.05)
    assert.equal(costOf([record('gpt-4o-2024-08-06', 100_000, 10_000, {cached_tokens: 40_000})]).usd, 0.3)
  })

  it('prices records written before cached tokens were known as all uncached', () => {
    assert.equal(costOf([record('gpt-4o', 100_000, 10_000)]).usd, 0.35)
    assert.equal(costOf([record('gpt-4o', 100_000, 10_000, {cached_tokens: 0})]).usd, 0.35)
  })

  it('never charges more cached tokens than the prompt had', () => {
    assert.equal(costOf([record('gpt-4o', 100_000, 0, {cached_tokens: 250_000})]).usd, 0.125)
  })

  it('lists the models it has no price for, and their requests, instead of counting them as $0', () => {
    const cost = costOf([
      record('gpt-4o', 1_000_000, 0),
      record('mystery-model', 10, 10),
      record('mystery-model', 5, 0),
      record('__proto__', 1, 1),
      record('empty', 0, 0),
    ])
    assert.deepEqual(cost, {usd: 2.5, unpriced: ['__proto__', 'mystery-model'], unpricedRequests: 3})
  })

  it('takes an override over the database, for that exact name; cached input defaults to the input price', () => {
    const overrides = fromJson(
      '{"gpt-4o": {"input": 5, "output": 20}, "my-org/llama-3.1:70b": {"input": 0.2, "output": 0.4, "cachedInput": 0.1}}',
    )
    assert.equal(costOf([record('gpt-4o', 1_000_000, 1_000_000, {cached_tokens: 400_000})], overrides).usd, 25)
    assert.equal(costOf([record('gpt-4o-2024-08-06', 1_000_000, 0)], overrides).usd, 2.5)
    assert.equal(
      costOf([record('my-org/llama-3.1:70b', 1_000_000, 1_000_000, {cached_tokens: 500_000})], overrides).usd,
      0.55,
    )
    assert.deepEqual(priceOf('my-org/llama-3.1:70b', overrides), {
      source: 'override',
      input: 0.2,
      cachedInput: 0.1,
      output: 0.4,
      provider: null,
    })
  })

  it('prices models named __proto__ or constructor only by their own override', () => {
    const overrides = fromJson('{"__proto__": {"input": 1, "output": 2}}')
    assert.deepEqual(costOf([record('__proto__', 1_000_000, 1_000_000), record('constructor', 5, 5)], overrides), {
      usd: 3,
      unpriced: ['constructor'],
      unpricedRequests: 1,
    })
    assert.equal(priceOf('toString', overrides), undefined)
  })
})

describe('pricing: overrides in the settings', () => {
  const home = tempHome()
  const ctx = createContext({env: {GPTCONV_HOME: home.dir}})
  after(() => home.cleanup())

  it('stores any model name, __proto__ included, as its own key, and lists overrides sorted', async () => {
    assert.deepEqual(await setPriceOverride(ctx, '__proto__', {input: 1, output: 2}), {
      model: '__proto__',
      price: {input: 1, output: 2},
      replaced: false,
    })
    assert.deepEqual(await setPriceOverride(ctx, 'a.b/c:d', {input: 0.5, output: 1, cachedInput: 0.25}), {
      model: 'a.b/c:d',
      price: {input: 0.5, output: 1, cachedInput: 0.25},
      replaced: false,
    })
    assert.deepEqual(await setPriceOverride(ctx, '__proto__', {input: 3, output: 4, cachedInput: undefined}), {
      model: '__proto__',
      price: {input: 3, output: 4},
      replaced: true,
    })
    const prices = ctx.config.read().prices
    assert.deepEqual(Object.keys(prices), ['__proto__', 'a.b/c:d'])
    assert.equal(Object.getPrototypeOf(prices), Object.prototype)
    assert.deepEqual(
      JSON.parse(readFileSync(ctx.paths.config, 'utf8')).prices,
      fromJson('{"__proto__": {"input": 3, "output": 4}, "a.b/c:d": {"input": 0.5, "output": 1, "cachedInput": 0.25}}'),
    )
    assert.deepEqual(await listPrices(prices), [
      {model: '__proto__', source: 'override', input: 3, cachedInput: 3, output: 4, provider: null},
      {model: 'a.b/c:d', source: 'override', input: 0.5, cachedInput: 0.25, output: 1, provider: null},
    ])
  })

  it('removes an override, and says when there is none', async () => {
    assert.deepEqual(await unsetPriceOverride(ctx, '__proto__'), {model: '__proto__', removed: {input: 3, output: 4}})
    await assert.rejects(unsetPriceOverride(ctx, '__proto__'), {code: 'GPTCONV_PRICE_NOT_FOUND'})
    await assert.rejects(unsetPriceOverride(ctx, 'constructor'), {code: 'GPTCONV_PRICE_NOT_FOUND'})
    assert.deepEqual(Object.keys(ctx.config.read().prices), ['a.b/c:d'])
  })

  it('refuses an empty model name', async () => {
    await assert.rejects(setPriceOverride(ctx, ' ', {input: 1, output: 1}), {code: 'GPTCONV_USAGE'})
  })

  it('lists every database model a request would be priced as, once, with overrides taking their names', async () => {
    const all = await listPrices(fromJson('{"gpt-4o": {"input": 5, "output": 20}}'), {
      all: true,
      at: new Date('2026-01-15T00:00:00Z'),
    })
    const named = (model: string) => all.filter((e) => e.model === model)
    assert.deepEqual(named('gpt-4o'), [
      {model: 'gpt-4o', source: 'override', input: 5, cachedInput: 5, output: 20, provider: null},
    ])
    assert.deepEqual(named('gpt-4o-mini'), [
      {model: 'gpt-4o-mini', source: 'genai-prices', input: 0.15, cachedInput: 0.075, output: 0.6, provider: 'openai'},
    ])
    assert.deepEqual(named('o3'), [
      {model: 'o3', source: 'genai-prices', input: 2, cachedInput: 0.5, output: 8, provider: 'openai'},
    ])
    assert.equal(new Set(all.map((e) => e.model)).size, all.length)
  })

  it('hints at the command that sets a price, quoting a name the shell would split', () => {
    assert.equal(
      setPriceHint(['my-org/llama-3.1:70b']),
      'gptconv prices set my-org/llama-3.1:70b --input USD --output USD',
    )
    assert.equal(setPriceHint(["bob's model"]), `gptconv prices set 'bob'\\''s model' --input USD --output USD`)
    assert.equal(setPriceHint(['a', 'b']), 'gptconv prices set MODEL --input USD --output USD')
  })
})
