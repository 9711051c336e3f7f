#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test through tsx. Extra arguments (reporters)
// are passed to node before the file list. The environment is scrubbed so no test can
// reach the developer's own keychain: tests that need a keychain start a private D-Bus
// session with gnome-keyring of their own (test/helpers/keyring.ts).
import {spawn} from 'node:child_process'
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return find(path)
    return name.endsWith('.test.ts') ? [path] : []
  })
}

const filter = process.env.TEST_FILTER
const files = find('test').filter((f) => !filter || f.includes(filter)).sort()
const env = {...process.env, NO_COLOR: '1', GPTCONV_KEYCHAIN_SERVICE: `gptconv-test-${process.pid}`}
delete env.DBUS_SESSION_BUS_ADDRESS
delete env.GPTCONV_HOME
delete env.FORCE_COLOR
// the load tests hold a few thousand sockets: raise the soft limit on open files as far as the hard limit allows
const args = ['--import', 'tsx', '--test', '--test-concurrency=2', ...process.argv.slice(2), ...files]
const quoted = [process.execPath, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
const child = spawn('/bin/sh', ['-c', `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${quoted}`], {stdio: 'inherit', env})
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
