import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'

type Entry = {model: string; source: string; input: number; cachedInput: number; output: number; provider: string | null; tiered?: true}

describe('gptconv prices', () => {
  const home = tempHome()
  after(() => home.cleanup())
  const cli = (...args: string[]) => runCli(['prices', ...args], {home: home.dir})
  const json = async <T>(...args: string[]) => {
    const r = await cli(...args, '--json')
    assert.equal(r.code, 0, r.stdout + r.stderr)
    return JSON.parse(r.stdout) as T
  }

  it('lists no overrides at first, and says where prices come from', async () => {
    assert.deepEqual(await json<Entry[]>('list'), [])
    assert.match((await cli('list')).stdout, /^No price overrides: prices come from @pydantic\/genai-prices/)
  })

  it('sets overrides for any model name: dots, slashes, colons, __proto__, constructor', async () => {
    assert.deepEqual(await json('set', 'my-org/llama-3.1:70b', '--input', '0.2', '--output', '0.6', '--cached-input', '0.05'), {model: 'my-org/llama-3.1:70b', price: {input: 0.2, output: 0.6, cachedInput: 0.05}, replaced: false})
    assert.deepEqual(await json('set', '__proto__', '--input', '1', '--output', '2'), {model: '__proto__', price: {input: 1, output: 2}, replaced: false})
    const text = await cli('set', 'constructor', '--input', '3', '--output', '4')
    assert.equal(text.stdout, 'Set a price for "constructor": $3 input, $3 cached input, $4 output, per million tokens.\n')
    assert.deepEqual(await json('set', 'constructor', '--input', '3.5', '--output', '4'), {model: 'constructor', price: {input: 3.5, output: 4}, replaced: true})
    assert.deepEqual(await json<Entry[]>('list'), [
      {model: '__proto__', source: 'override', input: 1, cachedInput: 1, output: 2, provider: null},
      {model: 'constructor', source: 'override', input: 3.5, cachedInput: 3.5, output: 4, provider: null},
      {model: 'my-org/llama-3.1:70b', source: 'override', input: 0.2, cachedInput: 0.05, output: 0.6, provider: null},
    ])
    const stored = JSON.parse(readFileSync(join(home.dir, 'config.json'), 'utf8')) as {prices: Record<string, unknown>}
    assert.deepEqual(Object.keys(stored.prices), ['my-org/llama-3.1:70b', '__proto__', 'constructor'])
    assert.match((await cli('list')).stdout, /^my-org\/llama-3\.1:70b\s+-\s+\$0\.2\s+\$0\.05\s+\$0\.6\s+override$/m)
  })

  it('lists every known price with --all, overrides first and taking their names', async () => {
    await json('set', 'gpt-4o', '--input', '5', '--output', '20')
    const all = await json<Entry[]>('list', '--all')
    assert.deepEqual(all.slice(0, 4).map((e) => [e.model, e.source]), [['__proto__', 'override'], ['constructor', 'override'], ['gpt-4o', 'override'], ['my-org/llama-3.1:70b', 'override']])
    assert.deepEqual(all.filter((e) => e.model === 'gpt-4o'), [{model: 'gpt-4o', source: 'override', input: 5, cachedInput: 5, output: 20, provider: null}])
    assert.deepEqual(all.find((e) => e.model === 'gpt-4o-mini'), {model: 'gpt-4o-mini', source: 'genai-prices', input: 0.15, cachedInput: 0.075, output: 0.6, provider: 'openai'})
    assert.deepEqual(all.find((e) => e.model === 'gpt-4.1'), {model: 'gpt-4.1', source: 'genai-prices', input: 2, cachedInput: 0.5, output: 8, provider: 'openai'})
    assert.ok(all.length > 100, `${all.length} prices`)
    assert.match((await cli('list', '--all')).stdout, /^gpt-4o-mini\s+openai\s+\$0\.15\s+\$0\.075\s+\$0\.6\s+genai-prices$/m)
  })

  it('removes an override, and fails with a code when there is none', async () => {
    assert.deepEqual(await json('unset', '__proto__'), {model: '__proto__', removed: {input: 1, output: 2}})
    const again = await cli('unset', '__proto__', '--json')
    assert.equal(again.code, 1)
    assert.deepEqual(JSON.parse(again.stdout), {error: {message: 'No price override for "__proto__".', code: 'GPTCONV_PRICE_NOT_FOUND', hint: 'See `gptconv prices list`.', exit: 1}})
    assert.deepEqual((await json<Entry[]>('list')).map((e) => e.model), ['constructor', 'gpt-4o', 'my-org/llama-3.1:70b'])
  })

  it('refuses a negative or missing price with exit 2', async () => {
    assert.equal((await cli('set', 'x', '--input', '-1', '--output', '1')).code, 2)
    assert.equal((await cli('set', 'x', '--input', '1')).code, 2)
    assert.equal((await cli('set', 'x', '--input', 'cheap', '--output', '1')).code, 2)
    assert.deepEqual((await json<Entry[]>('list')).map((e) => e.model), ['constructor', 'gpt-4o', 'my-org/llama-3.1:70b'])
  })
})
