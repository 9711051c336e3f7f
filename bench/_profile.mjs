import autocannon from 'autocannon'
import {execFile, fork, spawn} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
const ROOT = '/work/main', BIN = ROOT + '/bin/run.js'
const mode = process.argv[2] ?? 'json'
const up = fork(ROOT + '/bench/upstream.mjs', [], {stdio: ['ignore', 'ignore', 'inherit', 'ipc']})
const upPort = await new Promise((r) => up.once('message', (m) => r(m.port)))
const home = mkdtempSync(join(tmpdir(), 'prof-'))
const env = {...process.env, GPTCONV_HOME: home, GPTCONV_SECRET_STORE: 'file'}
const cli = (args, input) => new Promise((res, rej) => { const c = execFile(process.execPath, [BIN, ...args], {env}, (e, o) => e ? rej(e) : res(o)); c.stdin.end(input ?? '') })
await cli(['upstreams', 'add', 'bench', '--protocol', 'openai', '--base-url', `http://127.0.0.1:${upPort}/v1`, '--models', 'gpt-4o-mini,gpt-3.5-turbo-instruct'])
for (let i = 1; i <= 4; i++) await cli(['tokens', 'add', `k${i}`, '--kind', 'api-key', '--upstream', 'bench'], `sk-bench-key-${i}-abcdefghijklmnopqrstuvwxyz`)
const d = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', BIN, 'serve', '--port', '0'], {env, stdio: ['ignore', 'ignore', 'inherit']})
let st; for (let i = 0; i < 100 && !st; i++) { await sleep(100); st = await cli(['status', '--json']).then(JSON.parse, () => undefined) }
const {OPENAI_API_KEY: key} = JSON.parse(await cli(['env', '--json']))
const body = mode === 'legacy' ? JSON.stringify({model: 'gpt-3.5-turbo-instruct', prompt: 'x', max_tokens: 20}) : JSON.stringify({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'x'}], ...(mode === 'stream' && {stream: true})})
const url = new URL(st.url).origin + (mode === 'legacy' ? '/v1/completions' : '/v1/chat/completions')
const r = await autocannon({url, method: 'POST', connections: 64, duration: 6, body, headers: {'content-type': 'application/json', authorization: `Bearer ${key}`}})
console.log(mode, 'rps', r.requests.average, 'errors', r.errors + r.non2xx)
d.kill('SIGTERM'); await new Promise((r) => d.once('exit', r)); up.kill()
