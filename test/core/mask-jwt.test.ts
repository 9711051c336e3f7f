import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {InvalidSecretError} from '../../src/core/errors.js'
import {accessTokenInfo, decodeJwt} from '../../src/core/jwt.js'
import {mask, redact} from '../../src/core/mask.js'
import {fakeJwt} from '../helpers/jwt.js'

describe('mask', () => {
  it('keeps a known prefix and the last four characters', () => {
    assert.equal(mask('sk-abcdefghijklmnopqrstuvwx1234'), 'sk-…1234')
    assert.equal(mask('sk-proj-abcdefghijklmnopqrstuvwxyz9876'), 'sk-proj-…9876')
    assert.equal(mask('sess-abcdefghijklmnop4321'), 'sess-…4321')
    assert.equal(mask('opaque-refresh-token-value-zz99'), '…zz99')
  })

  it('shows nothing of a short secret', () => {
    assert.equal(mask('sk-short'), 'sk-…')
    assert.equal(mask('tiny'), '…')
  })

  it('redacts every occurrence of a secret', () => {
    const secret = 'sk-abcdefghijklmnopqrstuvwx1234'
    assert.equal(redact(`key ${secret} and again ${secret}`, [secret]), 'key sk-…1234 and again sk-…1234')
  })
})

describe('jwt', () => {
  it('decodes a payload and finds expiry and account', () => {
    const exp = Math.floor(Date.now() / 1000) + 3600
    const token = fakeJwt({
      exp,
      'https://api.openai.com/profile': {email: 'alice@example.com'},
      'https://api.openai.com/auth': {chatgpt_account_id: 'acct-1'},
    })
    assert.equal(decodeJwt(token)?.exp, exp)
    const info = accessTokenInfo(token)
    assert.equal(info.expiresAt.getTime(), exp * 1000)
    assert.equal(info.account, 'alice@example.com')
  })

  it('falls back to the account id, then sub', () => {
    assert.equal(
      accessTokenInfo(fakeJwt({exp: 2e9, 'https://api.openai.com/auth': {chatgpt_account_id: 'acct-1'}})).account,
      'acct-1',
    )
    assert.equal(accessTokenInfo(fakeJwt({exp: 2e9, sub: 'auth0|x'})).account, 'auth0|x')
  })

  it('rejects what is not a JWT, or has no exp', () => {
    assert.equal(decodeJwt('sk-not-a-jwt'), undefined)
    assert.equal(decodeJwt('a.b.c'), undefined)
    assert.throws(() => accessTokenInfo('sk-abc'), InvalidSecretError)
    assert.throws(() => accessTokenInfo(fakeJwt({sub: 'x'})), /no numeric "exp"/)
  })
})
