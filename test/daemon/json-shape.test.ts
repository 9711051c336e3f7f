import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {scanJson} from '../../src/daemon/json-shape.js'

describe('scanJson: nesting depth and duplicate top-level keys in one pass', () => {
  it('finds the depth, skipping brackets inside strings', () => {
    assert.deepEqual(scanJson('{"a":[[1]],"b":"[[[[{"}'), {depth: 3})
    assert.deepEqual(scanJson('[]'), {depth: 1})
  })

  it('names the first top-level key that appears twice', () => {
    assert.deepEqual(scanJson('{"model":"a","n":1,"model":"b"}'), {depth: 1, duplicate: 'model'})
    assert.deepEqual(scanJson('{ "x" : 1 ,\n\t"y":2, "y" :3,"x":4}'), {depth: 1, duplicate: 'y'})
  })

  it('decodes escaped keys before comparing them', () => {
    assert.deepEqual(scanJson(String.raw`{"model":"a","mo\u0064el":"b"}`), {depth: 1, duplicate: 'model'})
    assert.deepEqual(scanJson(String.raw`{"a\"b":1,"a\"b":2}`), {depth: 1, duplicate: 'a"b'})
  })

  it('does not count values, nested objects, arrays or text inside strings', () => {
    assert.deepEqual(
      scanJson(
        '{"model":"model","m":{"model":1,"model":2},"l":[{"model":1},{"model":2}],"s":"\\"model\\":1,\\"model\\":2"}',
      ),
      {depth: 3},
    )
    assert.deepEqual(scanJson('[{"a":1},{"a":1}]'), {depth: 2})
  })

  it('ends a string at the first quote after an even run of backslashes', () => {
    assert.deepEqual(scanJson(String.raw`{"a":"x\\","a":1}`), {depth: 1, duplicate: 'a'})
    assert.deepEqual(scanJson(String.raw`{"a":"\\\"{[","b":"\\\\","b":2}`), {depth: 1, duplicate: 'b'})
    assert.deepEqual(scanJson(String.raw`{"k\\":1,"k\\":2}`), {depth: 1, duplicate: 'k\\'})
    assert.deepEqual(scanJson('{"a":"never closed'), {depth: 1})
  })

  it('stops at the depth limit', () => {
    assert.deepEqual(scanJson('['.repeat(150)), {depth: 101})
  })
})
