import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import {runCli, tempHome} from '../helpers/cli.js'
import {FakeOpenAI} from '../helpers/fake-openai.js'

const KEY = 'sk-chat-cli-abcdefghijklmnopqrstu9999'
type Sent = {messages: Array<{role: string; content: string}>; stream?: boolean; model: string}

for (const mode of ['without a daemon (the pool in-process)', 'through a running daemon'] as const) {
  describe(`gptconv chat ${mode}`, () => {
    const home = tempHome()
    let fake: FakeOpenAI
    const cli = (args: string[], input?: string) => runCli(args, {home: home.dir, input})
    const sent = () => fake.requests.at(-1)!.body as Sent

    before(async () => {
      fake = await FakeOpenAI.start({keys: [KEY], chunkDelayMs: 5})
      await cli(['upstreams', 'add', 'fake', '--protocol', 'openai', '--base-url', fake.baseUrl])
      await cli(['tokens', 'add', 'k', '--kind', 'api-key', '--upstream', 'fake'], KEY)
      if (mode === 'through a running daemon') assert.equal((await cli(['serve', '--port', '0', '--detach'])).code, 0)
    })
    after(async () => {
      await cli(['stop'])
      await fake?.close()
      home.cleanup()
    })

    it('answers a prompt from stdin on stdout, streamed, and nothing else there', async () => {
      const r = await cli(['chat'], 'hi\n')
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout, 'Hello from the fake upstream: hi\n')
      assert.equal(sent().stream, true)
      assert.equal(sent().model, 'gpt-4o-mini')
    })

    it('joins the argument and stdin', async () => {
      const r = await cli(['chat', 'Review this'], 'diff --git a b\n')
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(sent().messages, [{role: 'user', content: 'Review this\n\ndiff --git a b'}])
    })

    it('remembers a session across invocations', async () => {
      assert.equal((await cli(['chat', '--session', 's1', 'My name is Ada'])).code, 0)
      const r = await cli(['chat', '--session', 's1', 'and then?', '--no-stream', '--system', 'Be brief'])
      assert.equal(r.stdout, 'Hello from the fake upstream: and then?\n')
      assert.deepEqual(
        sent().messages.map((m) => m.role),
        ['system', 'user', 'assistant', 'user'],
      )
      assert.equal(sent().messages[1].content, 'My name is Ada')
      await cli(['chat', '--session', 's1', '--reset', 'fresh start'])
      assert.deepEqual(
        sent().messages.map((m) => m.content),
        ['fresh start'],
      )
    })

    it('prints JSON with --json', async () => {
      const r = await cli(['chat', 'json please', '--model', 'gpt-4o', '--json'])
      const answer = JSON.parse(r.stdout) as {
        model: string
        content: string
        finish_reason: string
        usage: {total_tokens: number}
        via: string
      }
      assert.deepEqual(
        [answer.model, answer.content, answer.finish_reason],
        ['gpt-4o', 'Hello from the fake upstream: json please', 'stop'],
      )
      assert.ok(answer.usage.total_tokens > 0)
      assert.equal(answer.via, mode === 'through a running daemon' ? 'daemon' : 'in-process')
    })

    it('fails in a way scripts can see: exit 1, the reason on stderr, nothing on stdout', async () => {
      fake.fault('*', {
        type: 'status',
        status: 400,
        body: {
          error: {
            message: 'context too long',
            type: 'invalid_request_error',
            param: 'messages',
            code: 'context_length_exceeded',
          },
        },
      })
      const r = await cli(['chat', 'too long'])
      assert.equal(r.code, 1)
      assert.equal(r.stdout, '')
      assert.match(r.stderr, /context too long/)
      const empty = await cli(['chat'], '')
      assert.equal(empty.code, 2)
      assert.match(empty.stderr, /Nothing to ask/)
    })
  })
}
