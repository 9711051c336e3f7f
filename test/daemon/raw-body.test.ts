import assert from 'node:assert/strict'
import type {IncomingMessage} from 'node:http'
import {Readable} from 'node:stream'
import {describe, it} from 'node:test'

import {rawBodyOf, readJson} from '../../src/daemon/http.js'

/** A request body as the server hands it over. */
function request(text: string): IncomingMessage {
  return Object.assign(Readable.from([Buffer.from(text)]), {
    headers: {'content-length': String(Buffer.byteLength(text))},
  }) as unknown as IncomingMessage
}

describe('the raw text of a request body', () => {
  const text = '{"model": "gpt-4o-mini",  "messages": [{"role": "user", "content": "héllo"}]}'

  it('is kept for the parsed object itself, byte for byte, and seen by neither JSON nor its keys', async () => {
    const body = (await readJson(request(text), 1024)) as Record<string, unknown>
    assert.equal(rawBodyOf(body), text)
    assert.deepEqual(Object.keys(body), ['model', 'messages'])
    assert.equal(JSON.stringify(body), JSON.stringify(JSON.parse(text)))
    assert.deepEqual(structuredClone(body), JSON.parse(text))
  })

  it('is not the text of a copy made from it, even a spread one that carries its hidden key', async () => {
    const body = (await readJson(request(text), 1024)) as Record<string, unknown>
    const copy = {...body, model: 'gpt-4.1'}
    assert.equal(rawBodyOf(copy), undefined)
    assert.equal(rawBodyOf({...body}), undefined)
    assert.equal(rawBodyOf(JSON.parse(text) as object), undefined)
  })
})
