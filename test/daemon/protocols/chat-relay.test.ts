import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'

import {ChatPassthrough} from '../../../src/daemon/protocols/chat/byte-relay.js'
import {SseRelay} from '../../../src/daemon/protocols/chat/relay.js'
import {parseSse} from '../../../src/daemon/sse.js'

const chunk = (delta: object, extra: object = {}) =>
  `data: ${JSON.stringify({id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{index: 0, delta, logprobs: null, finish_reason: null}], usage: null, ...extra})}\n\n`
const finish = `data: ${JSON.stringify({id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{index: 0, delta: {}, logprobs: null, finish_reason: 'stop'}], usage: null})}\n\n`
const usage = `data: ${JSON.stringify({id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: {prompt_tokens: 5, completion_tokens: 3, total_tokens: 8}})}\n\n`
// some servers put the usage field first
const usageFirst = `data: ${JSON.stringify({usage: null, id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{index: 0, delta: {content: '!'}, logprobs: null, finish_reason: null}]})}\n\n`
const stream = [
  chunk({role: 'assistant', content: ''}),
  chunk({content: 'Héllo 😀'}),
  usageFirst,
  chunk({content: ' data: [DONE] "usage":{ in text'}),
  // keys that end like the ones the relay looks for are not them
  chunk({content: '.'}, {my_usage: null, unfinish_reason: 'x'}),
  finish,
  usage,
  'data: [DONE]\n\n',
].join('')

/** The bytes of `text` cut at the given points, through the byte relay. */
function viaBytes(text: string, cuts: number[], wantUsage: boolean) {
  const bytes = Buffer.from(text)
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const relay = new ChatPassthrough(wantUsage)
  let out = ''
  let last = 0
  for (const at of [...points, bytes.length]) {
    const piece = relay.bytes(bytes.subarray(last, at))
    out += typeof piece === 'string' ? piece : piece.toString('utf8')
    last = at
  }

  const rest = relay.bytesEnd()
  out += typeof rest === 'string' ? rest : rest.toString('utf8')
  return {out, relay}
}

function viaText(text: string, wantUsage: boolean) {
  const relay = new SseRelay(wantUsage)
  return {out: relay.process(parseSse(text)), relay}
}

describe('chat passthrough on bytes', () => {
  it('cut anywhere (even inside a character), it sends what the text relay sends, and reads the same usage', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), {maxLength: 12}), fc.boolean(), (cuts, wantUsage) => {
        const bytes = viaBytes(stream, cuts, wantUsage)
        const text = viaText(stream, wantUsage)
        assert.equal(bytes.out, text.out)
        assert.deepEqual(bytes.relay.usage, text.relay.usage)
        assert.equal(bytes.relay.finished, true)
      }),
      {numRuns: 300},
    )
  })

  it('drops the usage chunk and the null usage fields for a client that did not ask, keeps them for one that did', () => {
    const without = viaBytes(stream, [], false).out
    assert.doesNotMatch(without, /"usage"/)
    assert.match(without, /data: \[DONE\]\n\n$/)
    assert.equal(viaBytes(stream, [], true).out, stream)
  })

  it('a text that merely mentions [DONE] is no end; a stream without its [DONE] gets one at the end', () => {
    const {relay} = viaBytes([chunk({content: 'data: [DONE]'}), finish].join(''), [], false)
    assert.equal(relay.end(), 'data: [DONE]\n\n')
  })

  it('is finished by a finish_reason or [DONE], not by a key that merely ends like finish_reason', () => {
    const lookalike = chunk({content: 'x'}, {unfinish_reason: 'stop'})
    assert.equal(viaBytes(lookalike, [], false).relay.finished, false)
    assert.equal(viaBytes(lookalike + finish, [], false).relay.finished, true)
    assert.equal(viaBytes(lookalike + 'data: [DONE]\n\n', [], false).relay.finished, true)
  })

  it('a stream with CR line ends falls back to the text relay with the same result', () => {
    const crlf = stream.replaceAll('\n', '\r\n')
    assert.equal(viaBytes(crlf, [7, 300], false).out, viaText(crlf, false).out)
  })

  it('keeps the text for estimates until a usage chunk makes them pointless', () => {
    const {relay} = viaBytes([chunk({content: 'a'}), chunk({content: 'b'}), finish].join(''), [3], false)
    assert.equal(relay.text(), 'ab')
    assert.equal(viaBytes(stream, [], false).relay.text(), '')
  })

  it('keeps every piece of a long answer, cut anywhere, as the text relay does', () => {
    // ~40 KB of events: the kept bytes outgrow their buffer many times; multi-byte characters cut between reads
    const pieces = Array.from({length: 400}, (_, i) => `${i}: Grüße 😀 `)
    const long = [...pieces.map((content) => chunk({content})), finish].join('')
    fc.assert(
      fc.property(fc.array(fc.nat(), {maxLength: 40}), (cuts) => {
        const {relay} = viaBytes(long, cuts, false)
        assert.equal(relay.text(), pieces.join(''))
        assert.equal(relay.text(), viaText(long, false).relay.text())
      }),
      {numRuns: 50},
    )
  })
})
