import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {countText, encodingFor, segments} from '../../src/core/tokenizer.js'

describe('tokenizer: long runs without a word boundary', () => {
  it('cuts only runs of 1024+ characters, and the pieces join back to the text', () => {
    const text = `hello ${'x'.repeat(3000)} world${' '.repeat(1500)}end`
    const pieces = [...segments(text)]
    assert.equal(pieces.join(''), text)
    assert.ok(
      pieces.every((p) => p.length <= 512 || !/\S{1024,}|\s{1024,}/.test(p)),
      'no long run left',
    )
    assert.deepEqual([...segments('short text')], ['short text'])
    assert.deepEqual([...segments('x'.repeat(1023))], ['x'.repeat(1023)])
  })

  it('never splits a surrogate pair', () => {
    const text = `a${'😀'.repeat(1000)}`
    for (const piece of segments(text)) {
      assert.ok(!/[\uD800-\uDBFF]$/.test(piece), 'piece ends in a high surrogate')
      assert.ok(!/^[\uDC00-\uDFFF]/.test(piece), 'piece starts with a low surrogate')
    }
  })

  it('counts within 0.5% of the exact count, and tokens decode back to the same text', async () => {
    const exact = await import('gpt-tokenizer/encoding/o200k_base')
    const encoding = await encodingFor('gpt-4o-mini')
    for (const text of ['x'.repeat(5000), `${'ab'.repeat(2000)} and ${'é'.repeat(3000)}`, '😀'.repeat(2000)]) {
      const want = exact.countTokens(text)
      const got = await countText(text, 'gpt-4o-mini')
      assert.ok(Math.abs(got - want) <= Math.max(1, want * 0.005), `${got} vs exact ${want}`)
      assert.equal(encoding.decode(encoding.encode(text)), text)
    }
  })
})
