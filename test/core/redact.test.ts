import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {redact} from '../../src/core/mask.js'

const KEY = 'sk-Leaky-Key-ABCDefghIJKLmnopQRST7777'

describe('redact: every form of a secret', () => {
  it('masks the secret in any letter case', () => {
    assert.equal(
      redact(`a ${KEY} b ${KEY.toLowerCase()} c ${KEY.toUpperCase()}`, [KEY]),
      'a sk-…7777 b sk-…7777 c sk-…7777',
    )
  })

  it('masks its base64 and base64url encodings at each of the three byte alignments', () => {
    assert.equal(redact(Buffer.from(KEY).toString('base64'), [KEY]), 'sk-…7777w==')
    assert.equal(redact(Buffer.from(KEY).toString('base64url'), [KEY]), 'sk-…7777w')
    // `Basic base64(user:key)`: the key at byte offsets 6 (0 mod 3), 4 (1 mod 3) and 5 (2 mod 3)
    assert.equal(redact(Buffer.from(`alice:${KEY}`).toString('base64'), [KEY]), 'YWxpY2U6sk-…7777w==')
    assert.equal(redact(Buffer.from(`bob:${KEY}`).toString('base64'), [KEY]), 'Ym9iOnsk-…7777c=')
    assert.equal(redact(Buffer.from(`carl:${KEY}`).toString('base64'), [KEY]), 'Y2FybDpsk-…7777')
  })

  it('masks its URL encoding when that differs', () => {
    const secret = 'abc/def+ghi=jkl'
    // the masked form keeps the last four characters, as it does for every long secret
    assert.equal(redact(`token=${encodeURIComponent(secret)}`, [secret]), 'token=…=jkl')
  })

  it('leaves short secrets and unrelated text alone', () => {
    assert.equal(redact('the word password is not a secret', ['short', 'pass']), 'the word password is not a secret')
    assert.equal(redact('nothing here', [KEY]), 'nothing here')
  })

  it('treats a secret with regular-expression characters literally', () => {
    assert.equal(redact('x (a+b)*[c]$^{d}|e.f? y', ['(a+b)*[c]$^{d}|e.f?']), 'x …e.f? y')
  })
})
