#!/usr/bin/env node
// npm run build, the same on Linux, macOS and Windows shells: clean dist and the oclif
// manifest, compile with tsc, precompile the settings validator, write the manifest.
import {spawnSync} from 'node:child_process'
import {rmSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

function run(script, args, options = {}) {
  const result = spawnSync(process.execPath, [script, ...args], {
    cwd: root,
    stdio: ['ignore', options.quiet ? 'pipe' : 'inherit', 'inherit'],
    env: {...process.env, ...options.env},
  })
  if (result.status !== 0) process.exit(result.status ?? 1)
  return result
}

rmSync(join(root, 'dist'), {recursive: true, force: true})
rmSync(join(root, 'oclif.manifest.json'), {force: true})
run(require.resolve('typescript/bin/tsc'), ['-p', 'tsconfig.json'])
run(join(root, 'scripts/build-validator.mjs'), [])
run(join(dirname(require.resolve('oclif/package.json')), 'bin/run.js'), ['manifest'], {
  quiet: true,
  env: {OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
})
