// CPU time of the daemon process per request, gptconv against the minimal proxy, in alternating rounds
// (medians): a steadier signal than throughput on a shared machine. ONLY=json|stream N=requests R=rounds
// CONN=connections CHUNKS=stream chunks WARM=warm-up requests; PROF=1 adds --cpu-prof (profiles in /tmp/prof, /tmp/profp and /tmp/proff).
// bench/floor.mjs is the lower floor: a gateway that reads and parses both bodies, nothing else.
// BASE=/path/to/checkout[,…] (built) adds each one's daemon as a path named after its directory.
// DAEMON_STDOUT=1 shows the daemons' stdout (with GPTCONV_DAEMON_FLAGS='… --trace-gc', their GC trace).
import autocannon from 'autocannon'
import {fork} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {basename} from 'node:path'
import {fileURLToPath} from 'node:url'

import {startGptconv} from './gptconv.mjs'
const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
const f = (s, a) => {
  const c = fork(ROOT + '/bench/' + s, a, {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv:
      process.env.PROF && s !== 'upstream.mjs'
        ? ['--cpu-prof', `--cpu-prof-dir=/tmp/prof${s === 'proxy.mjs' ? 'p' : 'f'}`]
        : [],
  })
  return new Promise((r) => c.once('message', (m) => r({c, port: m.port})))
}
const {c: up, port: upPort} = await f('upstream.mjs', [])
const {c: px, port: pxPort} = await f('proxy.mjs', [`http://127.0.0.1:${upPort}`])
const {c: fl, port: flPort} = await f('floor.mjs', [`http://127.0.0.1:${upPort}`])
/** A gptconv daemon of the checkout at `root` (this one, or BASE=another checkout to compare with). */
const gptconv = (root) =>
  startGptconv(root, upPort, {
    daemonEnv:
      process.env.PROF && root === ROOT
        ? {
            GPTCONV_DAEMON_FLAGS:
              '--max-semi-space-size=4 --no-parallel-scavenge --heap-growing-percent=100 --expose-gc --cpu-prof --cpu-prof-dir=/tmp/prof',
          }
        : {},
    stdout: Boolean(process.env.DAEMON_STDOUT),
  })
const d = await gptconv(ROOT)
// other checkouts to compare with, measured in the same rounds: BASE=dir[,dir…]
const bases = []
for (const dir of (process.env.BASE ?? '').split(',').filter(Boolean))
  bases.push({name: basename(dir.replace(/\/$/, '')), ...(await gptconv(dir.replace(/\/$/, '')))})
const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}
const N = Number(process.env.N ?? 3000)
const R = Number(process.env.R ?? 5)
for (const stream of process.env.ONLY === 'stream' ? [true] : process.env.ONLY === 'json' ? [false] : [false, true]) {
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{role: 'user', content: 'x'}],
    ...(stream && {stream: true, bench_chunks: Number(process.env.CHUNKS ?? 20)}),
  })
  const paths = [
    ['proxy', `http://127.0.0.1:${pxPort}/v1/chat/completions`, px.pid, {}],
    ['gptconv', d.origin + '/v1/chat/completions', d.pid, {authorization: `Bearer ${d.key}`}],
  ]
  for (const b of bases)
    paths.push([b.name, b.origin + '/v1/chat/completions', b.pid, {authorization: `Bearer ${b.key}`}])
  paths.push(['floor', `http://127.0.0.1:${flPort}/v1/chat/completions`, fl.pid, {}])
  const samples = Object.fromEntries(paths.map(([name]) => [name, []]))
  for (const [, url, , headers] of paths)
    await autocannon({
      url,
      method: 'POST',
      connections: 16,
      amount: Number(process.env.WARM ?? 1000),
      body,
      headers: {'content-type': 'application/json', ...headers},
    })
  for (let r = 0; r < R; r++)
    for (const [name, url, pid, headers] of paths) {
      const before = cpu(pid)
      await autocannon({
        url,
        method: 'POST',
        connections: Number(process.env.CONN ?? 64),
        amount: N,
        body,
        headers: {'content-type': 'application/json', ...headers},
      })
      samples[name].push(((cpu(pid) - before) * 1000) / N)
    }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  console.log(
    stream ? 'stream' : 'json  ',
    `daemon cpu µs/req (median of ${R}):`,
    Object.entries(samples)
      .map(([name, xs]) => `${name} ${med(xs).toFixed(0)}`)
      .join(' '),
    // each round's ratio to the proxy (measured next to each other, so a slower machine for a while cancels out)
    '| median ratio to proxy:',
    Object.entries(samples)
      .filter(([name]) => name !== 'proxy')
      .map(([name, xs]) => `${name} ${med(xs.map((x, i) => x / samples.proxy[i])).toFixed(2)}`)
      .join(' '),
    ...(process.env.ROUNDS
      ? Object.entries(samples).map(([k, v]) => ` ${k}: ${v.map((x) => x.toFixed(0)).join(',')}`)
      : []),
  )
}
for (const g of [d, ...bases]) {
  g.daemon.kill('SIGTERM')
  await new Promise((r) => g.daemon.once('exit', r))
}
up.kill()
px.kill('SIGINT')
fl.kill('SIGINT')
