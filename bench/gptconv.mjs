// A gptconv daemon for the benches: a state directory of its own, the fake upstream as
// `bench` with four api-keys, `serve --port 0`; resolves once `status` sees it.
import {execFile, spawn} from 'node:child_process'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

/**
 * `root`: the checkout whose bin/run.js runs; `daemonEnv`: more environment for the daemon
 * only; `stdout`: show the daemon's stdout. The daemon is `daemon`; `env` runs its CLI.
 */
export async function startGptconv(root, upstreamPort, {daemonEnv = {}, stdout = false} = {}) {
  const bin = join(root, 'bin/run.js')
  const home = mkdtempSync(join(tmpdir(), 'gptconv-bench-'))
  const env = {...process.env, GPTCONV_HOME: home, GPTCONV_SECRET_STORE: 'file', NO_COLOR: '1'}
  delete env.DBUS_SESSION_BUS_ADDRESS
  const cli = (args, input) =>
    new Promise((resolve, reject) => {
      const child = execFile(process.execPath, [bin, ...args], {env}, (error, out) =>
        error ? reject(error) : resolve(out),
      )
      child.stdin.end(input ?? '')
    })
  const models = 'gpt-4o-mini,gpt-3.5-turbo-instruct'
  await cli([
    'upstreams',
    'add',
    'bench',
    '--protocol',
    'openai',
    '--base-url',
    `http://127.0.0.1:${upstreamPort}/v1`,
    '--models',
    models,
  ])
  for (let i = 1; i <= 4; i++)
    await cli(
      ['tokens', 'add', `k${i}`, '--kind', 'api-key', '--upstream', 'bench'],
      `sk-bench-key-${i}-abcdefghijklmnopqrstuvwxyz`,
    )
  const daemon = spawn(process.execPath, [bin, 'serve', '--port', '0'], {
    env: {...env, ...daemonEnv},
    stdio: ['ignore', stdout ? 'inherit' : 'ignore', 'inherit'],
  })
  let status
  for (let i = 0; i < 200 && !status; i++) {
    await sleep(50)
    status = await cli(['status', '--json']).then(JSON.parse, () => undefined)
  }

  if (!status) throw new Error(`the daemon of ${root} did not start`)
  const {OPENAI_API_KEY: key} = JSON.parse(await cli(['env', '--json']))
  return {daemon, home, env, pid: status.pid, origin: new URL(status.url).origin, key}
}
