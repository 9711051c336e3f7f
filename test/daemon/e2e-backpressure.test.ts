import assert from 'node:assert/strict'
import {EventEmitter} from 'node:events'
import {type ServerResponse, request} from 'node:http'
import {describe, it} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {ResponseTarget} from '../../src/daemon/http.js'
import {startTestDaemon} from '../helpers/daemon.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'
import {parseSseBody} from '../helpers/openapi.js'

const KEY = 'sk-backpressure-key-abcdefghijklmn5555'

/**
 * A legacy request fans out to one upstream stream per prompt, all writing to one client.
 * When that client reads slowly, every stream waits for the same response to drain: that
 * must be one listener and a list of waiters, not a `drain` and a `close` listener per
 * waiting stream (16 prompts made Node warn MaxListenersExceeded).
 */
describe('backpressure: many streams into one slow client', () => {
  it('16 prompts streamed to a client that pauses: the whole answer arrives, without a listener per waiting stream', async () => {
    const fake = await FakeOpenAI.start({
      keys: [KEY],
      answer: (_body, k) => `${'lorem ipsum dolor sit amet '.repeat(400)}end ${k}`,
    })
    const gw = await startTestDaemon({
      upstreams: {fake: {protocol: 'openai', baseUrl: fake.baseUrl}},
      tokens: [{label: 'k', secret: KEY, upstream: 'fake'}],
    })
    const warnings: string[] = []
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`)
    process.on('warning', onWarning)
    try {
      const prompts = Array.from({length: 16}, (_, i) => `prompt ${i}`)
      const body = JSON.stringify({model: 'gpt-3.5-turbo-instruct', prompt: prompts, max_tokens: 5000, stream: true})
      const url = new URL(`${gw.url}/completions`)
      const text = await new Promise<string>((resolve, reject) => {
        const req = request(
          url,
          {method: 'POST', headers: {authorization: `Bearer ${gw.clientKey}`, 'content-type': 'application/json'}},
          (res) => {
            res.pause() // the client does not read: the daemon's writes back up
            void sleep(1500).then(() => {
              let out = ''
              res.setEncoding('utf8')
              res.on('data', (chunk: string) => (out += chunk))
              res.on('end', () => resolve(out))
              res.on('error', reject)
              res.resume()
            })
          },
        )
        req.on('error', reject)
        req.end(body)
      })
      const events = parseSseBody(text)
      assert.equal(events.done, true, 'the stream ended with [DONE]')
      const finished = new Set(
        (events.events as Array<{choices: Array<{index: number; finish_reason: string | null}>}>).flatMap((e) =>
          e.choices.filter((c) => c.finish_reason).map((c) => c.index),
        ),
      )
      assert.equal(finished.size, 16, 'every prompt finished')
      assert.ok(text.length > 16 * 400 * 20, `the answer is large enough to back up the socket (${text.length} bytes)`)
      await sleep(50)
      assert.deepEqual(
        warnings.filter((w) => w.includes('MaxListeners')),
        [],
      )
    } finally {
      process.off('warning', onWarning)
      await gw.stop()
      await fake.close()
    }
  })
})

describe('ResponseTarget: one drain listener for every waiting writer', () => {
  /** A response whose socket is full: every write is refused until `drain`. */
  class FullResponse extends EventEmitter {
    headersSent = false
    destroyed = false
    writableEnded = false
    writableNeedDrain = false
    written: string[] = []
    writeHead() {
      this.headersSent = true
      return this
    }

    write(text: string) {
      this.written.push(text)
      this.writableNeedDrain = true
      return false
    }

    end(text: string) {
      this.written.push(text)
      this.writableEnded = true
    }
  }

  const turn = () => new Promise((resolve) => setImmediate(resolve))

  it('16 writers waiting on one response add one listener each for drain and close, and all wake on drain', async () => {
    const res = new FullResponse()
    const target = new ResponseTarget(res as unknown as ServerResponse, {})
    assert.equal(
      target.writer({}).write('data: first\n\n', () => {}),
      true,
    )
    await turn()
    assert.deepEqual(res.written, ['data: first\n\n'], 'a turn’s writes leave at its end')
    const woken: number[] = []
    for (let i = 0; i < 16; i++)
      assert.equal(
        target.writer({}).write(`data: ${i}\n\n`, () => woken.push(i)),
        false,
      )
    assert.equal(res.listenerCount('drain'), 1)
    assert.equal(res.listenerCount('close'), 1)
    await turn()
    assert.equal(res.written.length, 2, 'the 16 writes left as one chunk')
    assert.equal(res.written[1], Array.from({length: 16}, (_, i) => `data: ${i}\n\n`).join(''))
    assert.equal(woken.length, 0)
    res.writableNeedDrain = false
    res.emit('drain')
    assert.deepEqual(
      woken,
      Array.from({length: 16}, (_, i) => i),
    )
    res.writableNeedDrain = true
    target.writer({}).write('data: more\n\n', () => woken.push(99))
    assert.equal(res.listenerCount('drain'), 1, 'still one listener')
    res.destroyed = true
    res.emit('close')
    assert.equal(woken.at(-1), 99, 'a closed response wakes its waiters too')
  })

  it('the end leaves with what is pending, in order, as one chunk', () => {
    const res = new FullResponse()
    const target = new ResponseTarget(res as unknown as ServerResponse, {})
    target.writer({}).write(Buffer.from('data: a\n\n'), () => {})
    target.writer({}).write('data: b\n\n', () => {})
    target.end('data: [DONE]\n\n')
    assert.deepEqual(res.written.map(String), ['data: a\n\ndata: b\n\ndata: [DONE]\n\n'])
    assert.equal(res.writableEnded, true)
  })
})
