// CPU time of the daemon process per request, gptconv against the minimal proxy, in alternating rounds
// (medians): a steadier signal than throughput on a shared machine. ONLY=json|stream N=requests R=rounds
// CONN=connections CHUNKS=stream chunks; PROF=1 adds --cpu-prof (profiles in /tmp/prof and /tmp/profp).
// bench/floor.mjs is the lower floor: a gateway that reads and parses both bodies, nothing else.
import autocannon from 'autocannon'
import {execFile, fork, spawn} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {setTimeout as sleep} from 'node:timers/promises'
const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, ''),
  BIN = ROOT + '/bin/run.js'
const f = (s, a) => {
  const c = fork(ROOT + '/bench/' + s, a, {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: process.env.PROF && s === 'proxy.mjs' ? ['--cpu-prof', '--cpu-prof-dir=/tmp/profp'] : [],
  })
  return new Promise((r) => c.once('message', (m) => r({c, port: m.port})))
}
const {c: up, port: upPort} = await f('upstream.mjs', [])
const {c: px, port: pxPort} = await f('proxy.mjs', [`http://127.0.0.1:${upPort}`])
const {c: fl, port: flPort} = await f('floor.mjs', [`http://127.0.0.1:${upPort}`])
const home = mkdtempSync(join(tmpdir(), 'cpu-'))
const env = {...process.env, GPTCONV_HOME: home, GPTCONV_SECRET_STORE: 'file'}
const cli = (args, input) =>
  new Promise((res, rej) => {
    const c = execFile(process.execPath, [BIN, ...args], {env}, (e, o) => (e ? rej(e) : res(o)))
    c.stdin.end(input ?? '')
  })
await cli([
  'upstreams',
  'add',
  'bench',
  '--protocol',
  'openai',
  '--base-url',
  `http://127.0.0.1:${upPort}/v1`,
  '--models',
  'gpt-4o-mini,gpt-3.5-turbo-instruct',
])
for (let i = 1; i <= 4; i++)
  await cli(
    ['tokens', 'add', `k${i}`, '--kind', 'api-key', '--upstream', 'bench'],
    `sk-bench-key-${i}-abcdefghijklmnopqrstuvwxyz`,
  )
const d = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
  env: {
    ...env,
    ...(process.env.PROF && {
      GPTCONV_DAEMON_FLAGS: '--max-semi-space-size=8 --expose-gc --cpu-prof --cpu-prof-dir=/tmp/prof',
    }),
  },
  stdio: ['ignore', 'ignore', 'inherit'],
})
let st
for (let i = 0; i < 100 && !st; i++) {
  await sleep(100)
  st = await cli(['status', '--json']).then(JSON.parse, () => undefined)
}
const {OPENAI_API_KEY: key} = JSON.parse(await cli(['env', '--json']))
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
    ['gptconv', new URL(st.url).origin + '/v1/chat/completions', st.pid, {authorization: `Bearer ${key}`}],
  ]
  // the floor answers complete requests only
  if (!stream) paths.push(['floor', `http://127.0.0.1:${flPort}/v1/chat/completions`, fl.pid, {}])
  const samples = {proxy: [], gptconv: [], floor: []}
  for (const [, url, , headers] of paths)
    await autocannon({
      url,
      method: 'POST',
      connections: 16,
      amount: 1000,
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
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(0)
  console.log(
    stream ? 'stream' : 'json  ',
    'daemon cpu µs/req (median of',
    R,
    '):',
    'proxy',
    med(samples.proxy),
    'gptconv',
    med(samples.gptconv),
    ...(stream ? [] : ['floor', med(samples.floor)]),
    ...(process.env.ROUNDS
      ? Object.entries(samples).map(([k, v]) => ` ${k}: ${v.map((x) => x.toFixed(0)).join(',')}`)
      : []),
  )
}
d.kill('SIGTERM')
await new Promise((r) => d.once('exit', r))
up.kill()
px.kill('SIGINT')
fl.kill('SIGINT')
