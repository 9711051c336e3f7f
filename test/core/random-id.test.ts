import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {randomId} from '../../src/core/random-id.js'

describe('randomId', () => {
  it('gives ids of the asked size and encoding, all different, across refills of its pool', () => {
    const seen = new Set<string>()
    // 15 bytes at a time crosses the 4 KiB pool boundary many times (4096 is not a multiple of 15)
    for (let i = 0; i < 2000; i++) {
      const id = randomId(15, 'base64url')
      assert.match(id, /^[\w-]{20}$/)
      seen.add(id)
    }

    for (let i = 0; i < 500; i++) {
      const id = randomId(24, 'hex')
      assert.match(id, /^[\da-f]{48}$/)
      seen.add(id)
    }

    assert.equal(seen.size, 2500)
  })

  it('serves a request larger than its pool', () => {
    assert.match(randomId(5000, 'hex'), /^[\da-f]{10000}$/)
  })
})
