import {waitForUpdate} from '@pydantic/genai-prices'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'

type Entry = {
  model: string
  source: string
  input: number
  cachedInput: number
  output: number
  provider: string | null
  tiered?: true
}

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
    assert.deepEqual(
      await json('set', 'my-org/llama-3.1:70b', '--input', '0.2', '--output', '0.6', '--cached-input', '0.05'),
      {model: 'my-org/llama-3.1:70b', price: {input: 0.2, output: 0.6, cachedInput: 0.05}, replaced: false},
    )
    assert.deepEqual(await json('set', '__proto__', '--input', '1', '--output', '2'), {
      model: '__proto__',
      price: {input: 1, output: 2},
      replaced: false,
    })
    const text = await cli('set', 'constructor', '--input', '3', '--output', '4')
    assert.equal(
      text.stdout,
      'Set a price for "constructor": $3 input, $3 cached input, $4 output, per million tokens.\n',
    )
    assert.deepEqual(await json('set', 'constructor', '--input', '3.5', '--output', '4'), {
      model: 'constructor',
      price: {input: 3.5, output: 4},
      replaced: true,
    })
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
    assert.deepEqual(
      all.slice(0, 4).map((e) => [e.model, e.source]),
      [
        ['__proto__', 'override'],
        ['constructor', 'override'],
        ['gpt-4o', 'override'],
        ['my-org/llama-3.1:70b', 'override'],
      ],
    )
    assert.deepEqual(
      all.filter((e) => e.model === 'gpt-4o'),
      [{model: 'gpt-4o', source: 'override', input: 5, cachedInput: 5, output: 20, provider: null}],
    )
    assert.deepEqual(
      all.find((e) => e.model === 'gpt-4o-mini'),
      {model: 'gpt-4o-mini', source: 'genai-prices', input: 0.15, cachedInput: 0.075, output: 0.6, provider: 'openai'},
    )
    assert.deepEqual(
      all.find((e) => e.model === 'gpt-4.1'),
      {model: 'gpt-4.1', source: 'genai-prices', input: 2, cachedInput: 0.5, output: 8, provider: 'openai'},
    )
    assert.ok(all.length > 100, `${all.length} prices`)
    assert.match(
      (await cli('list', '--all')).stdout,
      /^gpt-4o-mini\s+openai\s+\$0\.15\s+\$0\.075\s+\$0\.6\s+genai-prices$/m,
    )
  })

  it('removes an override, and fails with a code when there is none', async () => {
    assert.deepEqual(await json('unset', '__proto__'), {model: '__proto__', removed: {input: 1, output: 2}})
    const again = await cli('unset', '__proto__', '--json')
    assert.equal(again.code, 1)
    assert.deepEqual(JSON.parse(again.stdout), {
      error: {
        message: 'No price override for "__proto__".',
        code: 'GPTCONV_PRICE_NOT_FOUND',
        hint: 'See `gptconv prices list`.',
        exit: 1,
      },
    })
    assert.deepEqual(
      (await json<Entry[]>('list')).map((e) => e.model),
      ['constructor', 'gpt-4o', 'my-org/llama-3.1:70b'],
    )
  })

  it('refuses a negative or missing price with exit 2', async () => {
    assert.equal((await cli('set', 'x', '--input', '-1', '--output', '1')).code, 2)
    assert.equal((await cli('set', 'x', '--input', '1')).code, 2)
    assert.equal((await cli('set', 'x', '--input', 'cheap', '--output', '1')).code, 2)
    assert.deepEqual(
      (await json<Entry[]>('list')).map((e) => e.model),
      ['constructor', 'gpt-4o', 'my-org/llama-3.1:70b'],
    )
  })
})

describe('gptconv prices refresh', () => {
  const home = tempHome()
  let server: Server
  let base = ''
  const cli = (...args: string[]) => runCli(args, {home: home.dir})
  const gpt4o = async () => {
    const r = await cli('prices', 'list', '--all', '--json')
    return {stderr: r.stderr, price: (JSON.parse(r.stdout) as Entry[]).find((e) => e.model === 'gpt-4o')}
  }

  before(async () => {
    // the package's own data with one price changed, as a newer copy of its data file would be
    const providers = JSON.parse(JSON.stringify(await waitForUpdate())) as Array<{
      id: string
      models: Array<{id: string; prices: Record<string, unknown>}>
    }>
    const model = providers.find((p) => p.id === 'openai')!.models.find((m) => m.id === 'gpt-4o')!
    model.prices = {...model.prices, input_mtok: 7}
    const body = JSON.stringify(providers)
    server = createServer((req, res) => {
      if (req.url === '/data.json') res.writeHead(200, {'content-type': 'application/json'}).end(body)
      else if (req.url === '/broken.json')
        res.writeHead(200, {'content-type': 'application/json'}).end('{"providers": "soon"}')
      else res.writeHead(404).end('no')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    writeFileSync(
      join(home.dir, 'usage.jsonl'),
      JSON.stringify({
        ts: new Date().toISOString(),
        token: 'a',
        upstream: 'u',
        model: 'gpt-4o',
        endpoint: 'chat',
        prompt_tokens: 1_000_000,
        completion_tokens: 0,
        estimated: false,
        status: 200,
        ms: 1,
      }) + '\n',
    )
  })
  after(() => {
    server.close()
    home.cleanup()
  })

  it('fetches the data once, caches it, and every reader prices with it', async () => {
    assert.equal((await gpt4o()).price?.input, 2.5)
    const r = await cli('prices', 'refresh', '--url', `${base}/data.json`, '--json')
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const result = JSON.parse(r.stdout) as {path: string; url: string; providers: number; models: number}
    assert.deepEqual([result.path, result.url], [join(home.dir, 'prices.json'), `${base}/data.json`])
    assert.ok(result.models > 1000, `${result.models} models`)
    assert.deepEqual((await gpt4o()).price, {
      model: 'gpt-4o',
      source: 'genai-prices',
      input: 7,
      cachedInput: 1.25,
      output: 10,
      provider: 'openai',
    })
    const usage = JSON.parse((await cli('usage', '--json')).stdout) as {total: {cost_usd: number}}
    assert.equal(usage.total.cost_usd, 7)
  })

  it('keeps the prices in use when the fetched data is not usable', async () => {
    for (const path of ['/broken.json', '/missing.json']) {
      const r = await cli('prices', 'refresh', '--url', `${base}${path}`, '--json')
      assert.equal(r.code, 1)
      const {error} = JSON.parse(r.stdout) as {error: {code: string; message: string}}
      assert.equal(error.code, 'GPTCONV_PRICES_REFRESH')
      assert.match(error.message, path === '/missing.json' ? /HTTP 404/ : /not a list of providers with models/)
      assert.equal((await gpt4o()).price?.input, 7)
    }
  })

  it('ignores data fetched for another version of the package, and says so', async () => {
    const path = join(home.dir, 'prices.json')
    const kept = readFileSync(path, 'utf8')
    writeFileSync(path, JSON.stringify({...JSON.parse(kept), package: '0.0.1', fetchedAt: '2025-01-01T00:00:00.000Z'}))
    const {stderr, price} = await gpt4o()
    assert.equal(price?.input, 2.5)
    assert.match(
      stderr,
      /fetched by `gptconv prices refresh` on 2025-01-01T00:00:00\.000Z were for @pydantic\/genai-prices 0\.0\.1/,
    )
    writeFileSync(path, kept)
  })

  it('goes back to the bundled prices with --reset', async () => {
    assert.equal((await gpt4o()).price?.input, 7)
    assert.deepEqual(JSON.parse((await cli('prices', 'refresh', '--reset', '--json')).stdout), {removed: true})
    assert.equal((await gpt4o()).price?.input, 2.5)
    assert.deepEqual(JSON.parse((await cli('prices', 'refresh', '--reset', '--json')).stdout), {removed: false})
  })
})
