#!/usr/bin/env node
// Runs the tests with node:test through tsx: every test/**/*.test.ts, or one group —
//   node scripts/test.mjs unit          converters, core logic, the fakes' self-tests
//   node scripts/test.mjs e2e           a real daemon or the built CLI against fakes
//   node scripts/test.mjs reliability   faults, load, soak, secrets, hardening
// Other arguments (reporters) go to node before the file list. GPTCONV_SKIP_SOAK=1 skips
// the long soak and load tests (CI runs them). The environment is scrubbed so no test can
// reach the developer's own keychain: tests that need a keychain start a private D-Bus
// session with gnome-keyring of their own (test/helpers/keyring.ts).
import {spawn} from 'node:child_process'
import {readdirSync, statSync} from 'node:fs'
import {join, sep} from 'node:path'

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return find(path)
    return name.endsWith('.test.ts') ? [path] : []
  })
}

const GROUPS = {
  reliability: (f) => f.startsWith(join('test', 'reliability') + sep),
  e2e: (f) => f.startsWith(join('test', 'commands') + sep) || /[\\/]e2e-[^\\/]+$/.test(f),
}
GROUPS.unit = (f) => !GROUPS.reliability(f) && !GROUPS.e2e(f)

const [group, ...rest] = process.argv.slice(2)
const inGroup = GROUPS[group]
const passed = inGroup ? rest : process.argv.slice(2)
const filter = process.env.TEST_FILTER
const files = find('test')
  .filter((f) => (!inGroup || inGroup(f)) && (!filter || f.includes(filter)))
  .sort()
const env = {...process.env, NO_COLOR: '1', GPTCONV_KEYCHAIN_SERVICE: `gptconv-test-${process.pid}`}
delete env.DBUS_SESSION_BUS_ADDRESS
delete env.GPTCONV_HOME
delete env.FORCE_COLOR
const args = ['--import', 'tsx', '--test', '--test-concurrency=2', ...passed, ...files]
if (process.platform === 'win32') {
  const child = spawn(process.execPath, args, {stdio: 'inherit', env})
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
} else {
  // the load tests hold a few thousand sockets: raise the soft limit on open files as far as the hard limit allows
  const quoted = [process.execPath, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const child = spawn(
    '/bin/sh',
    ['-c', `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${quoted}`],
    {stdio: 'inherit', env},
  )
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
}
