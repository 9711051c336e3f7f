#!/usr/bin/env node
// The daemon's CPU budget per request, stage by stage: each stage of a non-stream chat
// request and of a 20-chunk stream run on its own, many times, with the inputs a real
// request gives it, timed as CPU (process.cpuUsage). Run after `npm run build`:
//   node bench/stages.mjs            (N=20000 iterations per stage)
// The stages do not add up to the whole: Node's HTTP server and client, and the event
// loop, are not in them. `node bench/cpu-per-request.mjs` measures the whole.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable, Writable} from 'node:stream'
import {pino} from 'pino'

const dist = new URL('../dist/', import.meta.url)
const load = (path) => import(new URL(path, dist).href)
const {Router} = await load('daemon/router.js')
const {checkClientKey, checkHost, checkOrigin} = await load('daemon/security.js')
const {readJson} = await load('daemon/http.js')
const {CredentialPool} = await load('daemon/pool.js')
const {forwardHeaders} = await load('daemon/upstream/verdicts.js')
const {openaiAdapter} = await load('daemon/upstream/openai.js')
const {usageOfBody} = await load('daemon/protocols/usage.js')
const {LedgerWriter} = await load('core/ledger.js')
const {Metrics} = await load('daemon/metrics.js')
const {SseParser} = await load('daemon/sse.js')
const {SseRelay} = await load('daemon/protocols/chat/relay.js')
const {ChatPassthrough} = await load('daemon/protocols/chat/byte-relay.js')
const {logAccess} = await load('daemon/logger.js')

const N = Number(process.env.N ?? 20_000)
const KEY = `sk-gptconv-${'a'.repeat(40)}`

/** CPU µs per call of `fn` (after a warm-up), the median of 5 runs. */
async function cpu(fn) {
  for (let i = 0; i < Math.min(2000, N); i++) await fn(i)
  const runs = []
  for (let r = 0; r < 5; r++) {
    const start = process.cpuUsage()
    for (let i = 0; i < N; i++) await fn(i)
    const used = process.cpuUsage(start)
    runs.push((used.user + used.system) / N)
  }

  return runs.sort((a, b) => a - b)[2]
}

const body = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [
    {role: 'system', content: 'You are a helpful assistant.'},
    {role: 'user', content: 'Say twenty words about the sea, please.'},
  ],
})
const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1700000000,
  model: 'gpt-4o-mini',
  system_fingerprint: 'fp_bench',
  choices: [
    {
      index: 0,
      message: {role: 'assistant', content: 'word '.repeat(20).trim(), refusal: null},
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage: {prompt_tokens: 12, completion_tokens: 20, total_tokens: 32},
})
const upstreamHeaders = {
  'content-type': 'application/json',
  'x-request-id': 'req_bench',
  'openai-processing-ms': '12',
  'openai-version': '2020-10-01',
  'x-ratelimit-limit-requests': '10000',
  'x-ratelimit-remaining-requests': '9999',
  'x-ratelimit-reset-requests': '6ms',
  date: 'Thu, 26 Nov 2026 12:00:00 GMT',
  connection: 'keep-alive',
  'keep-alive': 'timeout=60',
  'content-length': '300',
}
const req = {
  method: 'POST',
  url: '/v1/chat/completions',
  headers: {
    host: '127.0.0.1:8787',
    authorization: `Bearer ${KEY}`,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  },
}
const routes = [
  '/healthz',
  '/metrics',
  '/admin/pool',
  '/v1/models',
  '/v1/models/*id',
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/responses',
  '/v1/responses/:id',
  '/v1/messages',
  '/v1/embeddings',
].map((pattern, i) => ({
  name: `r${i}`,
  method: pattern.includes('chat') || pattern.endsWith('s') ? 'POST' : 'GET',
  pattern,
  auth: true,
  handler: async () => {},
}))
const router = new Router(routes)
const pool = new CredentialPool({queueTimeoutMs: 1000, queueLimit: 100, cooldownMs: 1000})
pool.update(
  [1, 2, 3, 4].map((i) => ({label: `k${i}`, addedAt: 'x', kind: 'api-key', upstream: 'bench', concurrency: Infinity})),
)
const home = mkdtempSync(join(tmpdir(), 'gptconv-stages-'))
const ledger = new LedgerWriter(join(home, 'usage.jsonl'))
const metrics = new Metrics(pool)
const sink = new Writable({write: (_c, _e, cb) => cb()})
const log = pino({level: 'info', base: null}, sink)
const upstream = {name: 'bench', protocol: 'openai', baseUrl: 'http://127.0.0.1:9/v1'}
const served = {
  token: {label: 'k1', kind: 'api-key', upstream: 'bench', addedAt: 'x', concurrency: Infinity},
  upstream,
  attempts: 1,
  estimatesUsage: false,
}
const record = {
  ts: new Date().toISOString(),
  token: 'k1',
  upstream: 'bench',
  model: 'gpt-4o-mini',
  endpoint: 'chat',
  prompt_tokens: 12,
  completion_tokens: 20,
  estimated: false,
  status: 200,
  ms: 3,
}
const streamChunks = [
  {role: 'assistant', content: ''},
  ...Array.from({length: 20}, (_, i) => ({content: `w${i} `})),
].map((delta) =>
  Buffer.from(
    `data: ${JSON.stringify({id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini', choices: [{index: 0, delta, logprobs: null, finish_reason: null}], usage: null})}\n\n`,
  ),
)
streamChunks.push(
  Buffer.from(
    `data: ${JSON.stringify({id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini', choices: [], usage: {prompt_tokens: 12, completion_tokens: 20, total_tokens: 32}})}\n\ndata: [DONE]\n\n`,
  ),
)

const stages = [
  [
    'router and checks (Host, Origin, client key)',
    () => {
      router.match('POST', '/v1/chat/completions')
      checkHost(req, [])
      checkOrigin(req, [])
      checkClientKey(req, KEY)
    },
  ],
  [
    'body read and JSON parse',
    async () => {
      const stream = Readable.from([Buffer.from(body)])
      stream.headers = req.headers
      await readJson(stream, 16 * 1024 * 1024)
    },
  ],
  ['pool choice (lease and release)', async () => (await pool.acquire(() => true)).release({type: 'ok'})],
  [
    'upstream request built',
    () =>
      openaiAdapter.request(
        {endpoint: 'chat', model: 'gpt-4o-mini', stream: false, mode: 'native', body: JSON.parse(body)},
        served,
        'sk-upstream-key',
      ),
  ],
  ['header forwarding', () => forwardHeaders(upstreamHeaders)],
  ['answer parse for usage', () => usageOfBody(JSON.parse(completion))],
  ['ledger record', () => ledger.append(record)],
  [
    'metrics',
    () => {
      metrics.request('chat', 200, 0.003)
      metrics.countTokens('k1', 'gpt-4o-mini', 'prompt', 12)
      metrics.countTokens('k1', 'gpt-4o-mini', 'completion', 20)
    },
  ],
  [
    'log line',
    () =>
      logAccess(log, {
        id: 'req_0123456789abcdef01234567',
        method: 'POST',
        path: '/v1/chat/completions',
        status: 200,
        ms: 3,
        token: 'k1',
        model: 'gpt-4o-mini',
        attempts: 1,
      }),
  ],
  [
    'a 20-chunk stream passed through (byte relay: the chat and legacy fast path)',
    () => {
      const relay = new ChatPassthrough(false)
      for (const chunk of streamChunks) relay.bytes(chunk)
      relay.bytesEnd()
    },
  ],
  [
    'a 20-chunk stream: SSE parse and relay (converted streams)',
    () => {
      const parser = new SseParser()
      const relay = new SseRelay(false)
      for (const chunk of streamChunks) relay.process(parser.push(chunk))
      relay.process(parser.end())
    },
  ],
]

const results = []
for (const [name, fn] of stages) results.push({stage: name, us: await cpu(fn)})
await ledger.close()
rmSync(home, {recursive: true, force: true})
const total = results.filter((r) => !r.stage.startsWith('a 20')).reduce((n, r) => n + r.us, 0)
console.log('| stage | CPU µs per request |')
console.log('| --- | --- |')
for (const r of results) console.log(`| ${r.stage} | ${r.us.toFixed(2)} |`)
console.log(`| **sum of the non-stream stages** | **${total.toFixed(2)}** |`)
