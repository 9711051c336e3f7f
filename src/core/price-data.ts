import {REMOTE_DATA_JSON_URL, type Provider, updatePrices, waitForUpdate} from '@pydantic/genai-prices'
import {readFileSync, rmSync, statSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {request} from 'undici'

import type {Context} from './context.js'
import {GptconvError, errorMessage} from './errors.js'
import {ensureStateDir} from './paths.js'
import {writeStateFile} from './state-files.js'

/**
 * The price database is the one inside @pydantic/genai-prices; nothing is fetched while
 * pricing. `gptconv prices refresh` fetches that project's newer data once and caches it in
 * the state directory; from then on every reader (the CLI, a running daemon) uses the cached
 * copy, noticed by a stat, until `--reset` or a new package version (whose own data may be
 * newer than an old refresh) — the package's `updatePrices` hook swaps the data in.
 */

export type PriceData =
  {source: 'bundled'; package: string} | {source: 'refreshed'; package: string; fetchedAt: string; url: string}
type Cache = {fetchedAt: string; url: string; package: string; providers: Provider[]}

const require = createRequire(import.meta.url)
const PACKAGE_VERSION = (
  JSON.parse(readFileSync(join(dirname(require.resolve('@pydantic/genai-prices')), '..', 'package.json'), 'utf8')) as {
    version: string
  }
).version

export const priceDataPath = (ctx: Context) => join(ctx.paths.dir, 'prices.json')

let bundled: Provider[] | undefined
/** the cache file as last seen (size -1: there was none) and what came of reading it */
let decided: {path: string; mtimeMs: number; size: number; data: PriceData} | undefined

function setData(providers: Provider[]): void {
  updatePrices(({setProviderData}) => setProviderData(providers))
}

/** The package's own data, kept before anything replaces it. */
async function keepBundled(): Promise<void> {
  bundled ??= (await waitForUpdate()) ?? undefined
}

function useBundled(): PriceData {
  if (bundled) setData(bundled)
  return {source: 'bundled', package: PACKAGE_VERSION}
}

/**
 * Throws unless `value` is provider data the package accepts (it checks the price constraints
 * as it takes the data). Leaves the bundled data in use and forgets what was decided, so the
 * next `usePriceData` reads the cache file again.
 */
function checkProviders(value: unknown): Provider[] {
  const ok = (p: unknown) =>
    typeof p === 'object' &&
    p !== null &&
    typeof (p as Provider).id === 'string' &&
    Array.isArray((p as Provider).models)
  if (!Array.isArray(value) || value.length === 0 || !value.every(ok))
    throw new Error('not a list of providers with models')
  try {
    setData(value as Provider[])
  } finally {
    useBundled()
    decided = undefined
  }

  return value as Provider[]
}

function load(ctx: Context, path: string): PriceData {
  try {
    const cache = JSON.parse(readFileSync(path, 'utf8')) as Cache
    if (cache.package !== PACKAGE_VERSION) {
      ctx.warn(
        `The prices fetched by \`gptconv prices refresh\` on ${cache.fetchedAt} were for @pydantic/genai-prices ${cache.package}; ${PACKAGE_VERSION} is installed, and its own prices are used. Run \`gptconv prices refresh\` again for newer ones.`,
      )
      return useBundled()
    }

    setData(checkProviders(cache.providers))
    return {source: 'refreshed', package: PACKAGE_VERSION, fetchedAt: cache.fetchedAt, url: cache.url}
  } catch (error) {
    ctx.warn(
      `Cannot use the fetched prices in ${path} (${errorMessage(error)}); the prices @pydantic/genai-prices ${PACKAGE_VERSION} ships with are used.`,
    )
    return useBundled()
  }
}

/**
 * Make the pricing functions use the refreshed data when the state directory has a usable
 * cache, else the bundled data. Cheap when nothing changed: one stat.
 */
export async function usePriceData(ctx: Context): Promise<PriceData> {
  await keepBundled()
  const path = priceDataPath(ctx)
  let seen = {mtimeMs: -1, size: -1}
  try {
    seen = statSync(path)
  } catch {
    // no refresh made: the bundled data
  }

  if (decided?.path === path && decided.mtimeMs === seen.mtimeMs && decided.size === seen.size) return decided.data
  const data = seen.size === -1 ? useBundled() : load(ctx, path)
  decided = {path, mtimeMs: seen.mtimeMs, size: seen.size, data}
  return data
}

/** `gptconv prices refresh`: fetch the price data, check it, and cache it for every reader. */
export async function refreshPriceData(
  ctx: Context,
  options: {url?: string; timeoutMs?: number} = {},
): Promise<{path: string; url: string; fetchedAt: string; providers: number; models: number}> {
  const url = options.url ?? REMOTE_DATA_JSON_URL
  const timeoutMs = options.timeoutMs ?? 30_000
  const fail = (why: string) =>
    new GptconvError(
      'GPTCONV_PRICES_REFRESH',
      `Cannot refresh the prices from ${url}: ${why}. The prices in use are unchanged.`,
    )
  let providers: Provider[]
  try {
    const res = await request(url, {
      headers: {accept: 'application/json', 'user-agent': 'gptconv/0.1'},
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await res.body.text()
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`)
    await keepBundled()
    providers = checkProviders(JSON.parse(text))
  } catch (error) {
    throw fail(errorMessage(error))
  }

  const cache: Cache = {fetchedAt: new Date().toISOString(), url, package: PACKAGE_VERSION, providers}
  ensureStateDir(ctx.paths.dir)
  await writeStateFile(priceDataPath(ctx), JSON.stringify(cache))
  await usePriceData(ctx)
  return {
    path: priceDataPath(ctx),
    url,
    fetchedAt: cache.fetchedAt,
    providers: providers.length,
    models: providers.reduce((n, p) => n + p.models.length, 0),
  }
}

/** `gptconv prices refresh --reset`: forget fetched prices; the package's own are used again. */
export async function resetPriceData(ctx: Context): Promise<{removed: boolean}> {
  const path = priceDataPath(ctx)
  let removed = true
  try {
    statSync(path)
    rmSync(path)
  } catch {
    removed = false
  }

  await usePriceData(ctx)
  return {removed}
}
