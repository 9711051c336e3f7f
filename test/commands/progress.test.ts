import assert from 'node:assert/strict'
import {type Server, type Socket, createServer} from 'node:net'
import type {AddressInfo} from 'node:net'
import {after, before, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'
import {runInTerminal, scriptAvailable} from '../helpers/tty.js'

/**
 * Progress while a command waits: a spinner only on a terminal that can draw one, a plain
 * line elsewhere, nothing under --json — and SIGINT, SIGTERM or Ctrl-C end the command.
 * A terminal of 0 columns used to make the spinner write escape codes forever (534 MB in
 * 10 minutes) in a loop that never yielded to a signal.
 */

const DEAD_KEY = 'sk-progress-dead-abcdefghijklmnop0001'
const HUNG_KEY = 'sk-progress-hung-abcdefghijklmnop0002'
const CURSOR_UP = '\u001B[1A'
const SHOW_CURSOR = '\u001B[?25h'

describe('progress and signals', {skip: scriptAvailable()}, () => {
  const home = tempHome()
  // an upstream that accepts connections and never answers: the command waits on it
  const sockets = new Set<Socket>()
  let hung: Server
  const cli = (args: string[], input?: string) => runCli(args, {home: home.dir, input})

  before(async () => {
    hung = createServer((socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve))
    const port = (hung.address() as AddressInfo).port
    assert.equal(
      (await cli(['upstreams', 'add', 'dead', '--protocol', 'openai', '--base-url', 'http://127.0.0.1:9/v1'])).code,
      0,
    )
    assert.equal(
      (await cli(['upstreams', 'add', 'hung', '--protocol', 'openai', '--base-url', `http://127.0.0.1:${port}/v1`]))
        .code,
      0,
    )
    assert.equal((await cli(['tokens', 'add', 'd', '--kind', 'api-key', '--upstream', 'dead'], DEAD_KEY)).code, 0)
    assert.equal((await cli(['tokens', 'add', 'h', '--kind', 'api-key', '--upstream', 'hung'], HUNG_KEY)).code, 0)
  })
  after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => hung.close(resolve))
    home.cleanup()
  })

  for (const command of [
    ['tokens', 'refresh', 'd'],
    ['balance', 'd'],
  ]) {
    it(`\`${command.join(' ')}\` on a terminal of 0 columns ends by itself with a few plain lines`, async () => {
      const run = runInTerminal(command, {home: home.dir, columns: 0})
      assert.equal(await run.exit, 1, run.output().slice(0, 2000))
      assert.ok(run.bytes() < 4096, `${run.bytes()} bytes on the terminal`)
      assert.ok(!run.output().includes(CURSOR_UP), 'no spinner redraws')
      if (command[0] === 'tokens') assert.match(run.output(), /^Checking d…\r?$/m)
    })
  }

  it('SIGTERM ends a command waiting on a terminal of 0 columns (143)', async () => {
    const run = runInTerminal(['tokens', 'refresh', 'h'], {home: home.dir, columns: 0})
    await run.waitFor('Checking h…')
    await run.signal('SIGTERM')
    assert.equal(await run.exit, 143)
    assert.ok(run.bytes() < 4096, `${run.bytes()} bytes on the terminal`)
  })

  it('draws a spinner on a terminal with a width; Ctrl-C ends the command (130) and shows the cursor again', async () => {
    const run = runInTerminal(['tokens', 'refresh', 'h'], {home: home.dir, columns: 80})
    await run.waitFor('Checking h…')
    await run.waitFor('\u001B[?25l') // the spinner hid the cursor
    run.type('\u0003')
    assert.equal(await run.exit, 130)
    assert.ok(
      run.output().lastIndexOf(SHOW_CURSOR) > run.output().lastIndexOf('Checking h…'),
      'the cursor is shown after the last frame',
    )
  })

  it('SIGTERM ends a command showing a spinner (143)', async () => {
    const run = runInTerminal(['tokens', 'refresh', 'h'], {home: home.dir, columns: 80})
    await run.waitFor('Checking h…')
    await run.signal('SIGTERM')
    assert.equal(await run.exit, 143)
  })

  it('writes plain progress lines to stderr when stderr is no terminal, and none under --json', async () => {
    const plain = await cli(['tokens', 'refresh', 'd'])
    assert.equal(plain.code, 1)
    assert.match(plain.stderr, /^Checking d…$/m)
    const json = await cli(['tokens', 'refresh', 'd', '--json'])
    assert.equal(json.code, 1)
    assert.equal(json.stderr, '')
    assert.deepEqual(
      (JSON.parse(json.stdout) as Array<{label: string; status: string}>).map((r) => [r.label, r.status]),
      [['d', 'unreachable']],
    )
  })
})
