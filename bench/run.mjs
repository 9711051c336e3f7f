#!/usr/bin/env node
// npm run bench: gptconv against the direct path and a minimal node:http + undici proxy,
// all on loopback, measured in one run; prints a table, writes bench/results/latest.json,
// and checks the targets of docs/reference.md §6 as ratios of figures taken side by side.
import autocannon from 'autocannon'
import {execFile, fork} from 'node:child_process'
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {request as httpRequest, Agent as HttpAgent} from 'node:http'
import {dirname, join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import {startGptconv} from './gptconv.mjs'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const BIN = join(ROOT, 'bin/run.js')
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
/** USER_HZ: /proc reports CPU time in ticks of 1/100 s on Linux */
const CLOCK_TICKS = 100
const STREAMS = Number(process.env.BENCH_STREAMS ?? 1000)
const run = promisify(execFile)
const children = []

function start(script, args) {
  const child = fork(join(ROOT, 'bench', script), args, {stdio: ['ignore', 'ignore', 'inherit', 'ipc']})
  children.push(child)
  return new Promise((resolve) => child.once('message', (m) => resolve({child, port: m.port})))
}

const chatBody = (extra = {}) =>
  JSON.stringify({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'Say twenty words.'}], ...extra})
const legacyBody = JSON.stringify({model: 'gpt-3.5-turbo-instruct', prompt: 'Say twenty words.', max_tokens: 20})

const ROUNDS = 5
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/**
 * Load runs for several paths, interleaved in rounds (A B C A B C …) so that drift in a
 * shared, noisy machine hits every path alike; each path gets SECONDS in all.
 */
async function compare(targets, {connections}) {
  const runs = new Map(targets.map((t) => [t.name, []]))
  for (const t of targets)
    await autocannon({
      url: t.url,
      method: 'POST',
      connections,
      duration: 1,
      body: t.body,
      headers: {'content-type': 'application/json', ...t.headers},
    }) // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of targets) {
      // the serving process's CPU time and peak RSS during the round (Linux /proc), when it is a process of its own
      const cpuBefore = t.pid ? cpuMs(t.pid) : NaN
      let peak = t.pid ? rssMb(t.pid) : NaN
      const sampler = t.pid && setInterval(() => (peak = Math.max(peak, rssMb(t.pid))), 50)
      const r = await autocannon({
        url: t.url,
        method: 'POST',
        connections,
        duration: SECONDS / ROUNDS,
        body: t.body,
        headers: {'content-type': 'application/json', ...t.headers},
      })
      if (sampler) clearInterval(sampler)
      r.cpuUsPerRequest = ((cpuMs(t.pid) - cpuBefore) * 1000) / r.requests.total
      r.peakRssMb = peak
      runs.get(t.name).push(r)
    }
  }

  return targets.map((t) => {
    const rs = runs.get(t.name)
    return {
      name: t.name,
      rps: rs.reduce((n, r) => n + r.requests.total, 0) / rs.reduce((n, r) => n + r.duration, 0),
      rounds: rs.map((r) => r.requests.total / r.duration),
      p50: median(rs.map((r) => r.latency.p50)),
      p99: median(rs.map((r) => r.latency.p99)),
      p99Rounds: rs.map((r) => r.latency.p99),
      cpuUs: median(rs.map((r) => r.cpuUsPerRequest)),
      cpuRounds: rs.map((r) => r.cpuUsPerRequest),
      peakRssMb: Math.max(...rs.map((r) => r.peakRssMb)),
      errors: rs.reduce((n, r) => n + r.errors + r.timeouts + r.non2xx, 0),
    }
  })
}

/** CPU time (user + system) a process used so far, in ms (Linux; NaN elsewhere). */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) * (1000 / CLOCK_TICKS)
  } catch {
    return NaN
  }
}

/** The median over rounds of a / b: one noisy round (another tenant, a GC) does not decide it. */
const roundRatio = (a, b, key = 'rounds') => median(a[key].map((x, i) => x / b[key][i]))

/** One client, one request at a time, timed with performance.now(): latency in µs resolution. Paths interleaved in rounds. */
async function sequential(targets, perRound = 500) {
  const agent = new HttpAgent({keepAlive: true, maxSockets: 1})
  const one = (t) =>
    new Promise((resolve, reject) => {
      const start = performance.now()
      const req = httpRequest(
        t.url,
        {method: 'POST', agent, headers: {'content-type': 'application/json', ...t.headers}},
        (res) => {
          res.resume()
          res.on('end', () =>
            res.statusCode === 200 ? resolve(performance.now() - start) : reject(new Error(`HTTP ${res.statusCode}`)),
          )
        },
      )
      req.on('error', reject)
      req.end(t.body)
    })
  const times = new Map(targets.map((t) => [t.name, []]))
  for (const t of targets) for (let i = 0; i < 200; i++) await one(t) // warm-up
  for (let round = 0; round < ROUNDS; round++)
    for (const t of targets) for (let i = 0; i < perRound; i++) times.get(t.name).push(await one(t))
  agent.destroy()
  return targets.map((t) => {
    const xs = times.get(t.name).sort((a, b) => a - b)
    return {
      name: t.name,
      rps: 1000 / (xs.reduce((a, b) => a + b, 0) / xs.length),
      p50: xs[Math.floor(xs.length / 2)],
      p99: xs[Math.floor(xs.length * 0.99)],
      errors: 0,
    }
  })
}

/** Per chunk: arrival time minus the upstream's send time; and how many reads carried more than one chunk. */
function streamTimings(url, headers, body, agent) {
  return new Promise((resolve, reject) => {
    const delays = []
    let batched = 0
    let buffer = ''
    const req = httpRequest(
      url,
      {method: 'POST', agent, headers: {'content-type': 'application/json', ...headers}},
      (res) => {
        res.setEncoding('utf8')
        res.on('data', (text) => {
          const at = performance.timeOrigin + performance.now()
          buffer += text
          const events = buffer.split('\n\n')
          buffer = events.pop()
          let inRead = 0
          for (const e of events) {
            const m = /"sent_at":([\d.]+)/.exec(e)
            if (m) {
              delays.push(at - Number(m[1]))
              inRead++
            }
          }

          if (inRead > 1) batched += inRead - 1
        })
        res.on('end', () => resolve({delays, batched}))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function chunkDelays(name, url, headers) {
  const agent = new HttpAgent({keepAlive: true})
  const all = []
  let batched = 0
  for (let i = 0; i < 5; i++) {
    const r = await streamTimings(url, headers, chatBody({stream: true, bench_chunks: 20, bench_gap_ms: 20}), agent)
    all.push(...r.delays)
    batched += r.batched
  }

  agent.destroy()
  all.sort((a, b) => a - b)
  return {name, chunks: all.length, p50: all[Math.floor(all.length / 2)], max: all.at(-1), batched}
}

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : NaN
  } catch {
    return NaN
  }
}

/** The daemon's event-loop delay p99 since the last scrape, in ms (prom-client's default metrics reset it on each scrape). */
async function loopDelayP99Ms(origin) {
  const text = await (await fetch(`${origin}/metrics`)).text()
  const m = /^(?:gptconv_)?nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(text)
  return m ? Number(m[1]) * 1000 : NaN
}

/** N streams open at once (each 10 chunks over ~2 s); errors, incomplete answers, peak RSS of `pid`. */
async function openStreams(name, url, headers, pid) {
  const agent = new HttpAgent({keepAlive: true, maxSockets: Infinity})
  let peak = rssMb(pid)
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 50)
  const body = chatBody({stream: true, bench_chunks: 10, bench_gap_ms: 200})
  const one = () =>
    new Promise((resolve) => {
      const req = httpRequest(
        url,
        {method: 'POST', agent, headers: {'content-type': 'application/json', ...headers}},
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (t) => (text += t))
          res.on('end', () =>
            resolve(res.statusCode === 200 && text.includes('data: [DONE]') ? 'ok' : `bad: ${res.statusCode}`),
          )
          res.on('error', () => resolve('error'))
        },
      )
      req.on('error', () => resolve('error'))
      req.setTimeout(30_000, () => req.destroy())
      req.end(body)
    })
  const started = performance.now()
  const results = await Promise.all(Array.from({length: STREAMS}, one))
  clearInterval(sampler)
  agent.destroy()
  return {
    name,
    streams: STREAMS,
    ok: results.filter((r) => r === 'ok').length,
    errors: results.filter((r) => r !== 'ok').length,
    seconds: (performance.now() - started) / 1000,
    peakRssMb: peak,
  }
}

async function cliStart(env) {
  const times = []
  for (let i = 0; i < 11; i++) {
    const t = performance.now()
    await run(process.execPath, [BIN, 'tokens', 'list'], {env})
    times.push(performance.now() - t)
  }

  times.sort((a, b) => a - b)
  return {median: times[5], min: times[0]}
}

const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-')

async function main() {
  const began = performance.now()
  const {port: up} = await start('upstream.mjs', [])
  const {port: px, child: proxy} = await start('proxy.mjs', [`http://127.0.0.1:${up}`])
  const gw = await startGptconv(ROOT, up)
  children.push(gw.daemon)
  const auth = {authorization: `Bearer ${gw.key}`}
  const urls = {
    direct: `http://127.0.0.1:${up}/v1/chat/completions`,
    proxy: `http://127.0.0.1:${px}/v1/chat/completions`,
    gptconv: `${gw.origin}/v1/chat/completions`,
  }
  const heads = {direct: {}, proxy: {}, gptconv: auth}
  const pids = {direct: undefined, proxy: proxy.pid, gptconv: gw.pid}
  const paths = ['direct', 'proxy', 'gptconv']
  const results = {machine: {node: process.version, cpus: (await import('node:os')).cpus().length}, seconds: SECONDS}

  const targets = (body) => paths.map((p) => ({name: p, url: urls[p], headers: heads[p], body, pid: pids[p]}))
  console.error('non-stream chat, 1 client …')
  results.single = await sequential(targets(chatBody()))
  console.error('non-stream chat, 64 clients …')
  results.many = await compare(targets(chatBody()), {connections: 64})
  console.error('streams of 20 chunks, 64 clients …')
  await loopDelayP99Ms(gw.origin)
  results.streams = await compare(targets(chatBody({stream: true})), {connections: 64})
  results.streamLoopDelayP99Ms = await loopDelayP99Ms(gw.origin)
  console.error('legacy /v1/completions converted vs chat passthrough, 64 clients …')
  results.legacy = await compare(
    [
      {name: 'gptconv chat passthrough', url: urls.gptconv, headers: auth, body: chatBody()},
      {name: 'gptconv legacy converted', url: `${gw.origin}/v1/completions`, headers: auth, body: legacyBody},
    ],
    {connections: 64},
  )
  console.error('chunk arrival with a slow upstream (20 chunks, 20 ms apart) …')
  results.chunks = []
  for (const p of paths) results.chunks.push(await chunkDelays(p, urls[p], heads[p]))
  // the open-streams test starts from a settled process: both get 2 s without load first
  await sleep(2000)
  console.error(`${STREAMS} concurrent open streams …`)
  results.open = [
    await openStreams('proxy', urls.proxy, {}, proxy.pid),
    await openStreams('gptconv', urls.gptconv, auth, gw.pid),
  ]
  console.error('CLI start (tokens list) …')
  results.cli = await cliStart(gw.env)
  results.wallSeconds = (performance.now() - began) / 1000

  const by = (list, name) => list.find((r) => r.name === name)
  const single = {direct: by(results.single, 'direct'), gptconv: by(results.single, 'gptconv')}
  const addedMs = single.gptconv.p50 - single.direct.p50
  const chunk = {direct: by(results.chunks, 'direct'), gptconv: by(results.chunks, 'gptconv')}
  const many = {proxy: by(results.many, 'proxy'), gptconv: by(results.many, 'gptconv')}
  const streams = {proxy: by(results.streams, 'proxy'), gptconv: by(results.streams, 'gptconv')}
  results.targets = [
    {
      target: 'non-stream chat at 64 clients: throughput >= 0.9 x minimal proxy (median of per-round ratios)',
      value: roundRatio(many.gptconv, many.proxy),
      limit: 0.9,
      higher: true,
    },
    {
      target: 'daemon CPU per non-stream request at 64 clients <= 1.25 x minimal proxy (median of per-round ratios)',
      value: roundRatio(many.gptconv, many.proxy, 'cpuRounds'),
      limit: 1.25,
      higher: false,
      extra: `${fmt(many.gptconv.cpuUs, 0)} vs ${fmt(many.proxy.cpuUs, 0)} µs`,
    },
    {
      target: 'streams of 20 chunks at 64 clients: throughput >= 0.85 x minimal proxy',
      value: roundRatio(streams.gptconv, streams.proxy),
      limit: 0.85,
      higher: true,
      extra: `CPU ${fmt(streams.gptconv.cpuUs, 0)} vs ${fmt(streams.proxy.cpuUs, 0)} µs per stream`,
    },
    {
      target: 'stream completion p99 at 64 clients <= 1.5 x minimal proxy',
      value: roundRatio(streams.gptconv, streams.proxy, 'p99Rounds'),
      limit: 1.5,
      higher: false,
      extra: `${fmt(streams.gptconv.p99, 0)} vs ${fmt(streams.proxy.p99, 0)} ms; event-loop delay p99 ${fmt(results.streamLoopDelayP99Ms)} ms`,
    },
    {
      target: 'peak RSS under 64 streams <= 1.3 x minimal proxy',
      value: streams.gptconv.peakRssMb / streams.proxy.peakRssMb,
      limit: 1.3,
      higher: false,
      extra: `${fmt(streams.gptconv.peakRssMb)} vs ${fmt(streams.proxy.peakRssMb)} MB`,
    },
    {target: 'added median latency at 1 client over direct: <= 0.5 ms', value: addedMs, limit: 0.5, higher: false},
    {
      target: 'streaming: added median chunk delay over direct <= 1 ms, no batching',
      value: chunk.gptconv.p50 - chunk.direct.p50,
      limit: 1,
      higher: false,
      extra: `batched chunks: ${chunk.gptconv.batched}`,
      ok: chunk.gptconv.batched === 0,
    },
    {
      target: 'legacy conversion throughput >= 0.8 x passthrough (median of per-round ratios)',
      value: roundRatio(results.legacy[1], results.legacy[0]),
      limit: 0.8,
      higher: true,
    },
    {
      target: `${STREAMS} concurrent open streams: no errors, RSS <= 150 MB`,
      value: by(results.open, 'gptconv').peakRssMb,
      limit: 150,
      higher: false,
      extra: `errors: ${by(results.open, 'gptconv').errors}`,
      ok: by(results.open, 'gptconv').errors === 0,
    },
    {
      target: '`gptconv tokens list` on a warm machine: <= 400 ms',
      value: results.cli.median,
      limit: 400,
      higher: false,
    },
  ].map((t) => ({...t, pass: (t.ok ?? true) && (t.higher ? t.value >= t.limit : t.value <= t.limit)}))

  const lines = []
  const table = (title, head, rows) => {
    lines.push(
      `\n${title}`,
      `| ${head.join(' | ')} |`,
      `| ${head.map(() => '---').join(' | ')} |`,
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    )
  }

  const vs = (list, r, key) =>
    `${fmt(r[key] / by(list, 'proxy')[key], 2)}x proxy, ${fmt(r[key] / by(list, 'direct')[key], 2)}x direct`
  table(
    'Non-stream chat, 1 client (sequential requests, timed one by one)',
    ['path', 'req/s', 'p50 ms', 'p99 ms'],
    results.single.map((r) => [r.name, fmt(r.rps), fmt(r.p50, 3), fmt(r.p99, 3)]),
  )
  const load = (title, [rate, cpu], list) =>
    table(
      title,
      ['path', rate, 'ratio', 'p50 ms', 'p99 ms', cpu, 'peak RSS MB', 'errors'],
      list.map((r) => [
        r.name,
        fmt(r.rps),
        vs(list, r, 'rps'),
        fmt(r.p50),
        fmt(r.p99),
        fmt(r.cpuUs, 0),
        fmt(r.peakRssMb),
        r.errors,
      ]),
    )
  load('Non-stream chat, 64 clients', ['req/s', 'CPU µs/request'], results.many)
  load('Streams of 20 chunks, 64 clients', ['streams/s', 'CPU µs/stream'], results.streams)
  table(
    'Legacy /v1/completions (converted to chat) vs chat passthrough, 64 clients',
    ['path', 'req/s', 'p50 ms', 'p99 ms', 'errors'],
    results.legacy.map((r) => [r.name, fmt(r.rps), fmt(r.p50), fmt(r.p99), r.errors]),
  )
  table(
    'Chunk arrival, slow upstream (5 streams × 20 chunks, 20 ms apart): upstream send → client receive',
    ['path', 'chunks', 'p50 ms', 'max ms', 'batched'],
    results.chunks.map((r) => [r.name, r.chunks, fmt(r.p50, 2), fmt(r.max, 2), r.batched]),
  )
  table(
    `${STREAMS} concurrent open streams (10 chunks over 2 s each)`,
    ['path', 'ok', 'errors', 'seconds', 'peak RSS MB'],
    results.open.map((r) => [r.name, r.ok, r.errors, fmt(r.seconds), fmt(r.peakRssMb)]),
  )
  table(
    'CLI start',
    ['command', 'median ms', 'min ms'],
    [['gptconv tokens list', fmt(results.cli.median, 0), fmt(results.cli.min, 0)]],
  )
  table(
    'Targets (docs/reference.md §6)',
    ['target', 'measured', 'limit', 'pass'],
    results.targets.map((t) => [
      t.target,
      `${fmt(t.value, 2)}${t.extra ? ` (${t.extra})` : ''}`,
      t.limit,
      t.pass ? 'yes' : '**no**',
    ]),
  )
  lines.push(
    `\n${results.machine.cpus} CPUs, Node ${results.machine.node}; load runs of ${SECONDS} s per path in ${ROUNDS} interleaved rounds; ${fmt(results.wallSeconds, 0)} s in all.`,
  )
  console.log(lines.join('\n'))
  mkdirSync(join(ROOT, 'bench/results'), {recursive: true})
  writeFileSync(join(ROOT, 'bench/results/latest.json'), JSON.stringify(results, null, 2) + '\n')
  writeFileSync(join(ROOT, 'bench/results/latest.md'), lines.join('\n') + '\n')
  rmSync(gw.home, {recursive: true, force: true})
}

try {
  await main()
} finally {
  for (const child of children) child.kill('SIGTERM')
}
