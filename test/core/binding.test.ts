import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {bindingFor, originBlock, recordedBinding} from '../../src/core/binding.js'
import type {TokenEntry} from '../../src/core/config.js'

const entry = (extra: Partial<TokenEntry> = {}): TokenEntry => ({
  label: 'w',
  kind: 'api-key',
  upstream: 'u',
  store: 'file',
  masked: 'sk-…',
  addedAt: '2025-01-01T00:00:00.000Z',
  ...extra,
})

describe('token bindings to an origin', () => {
  it('binds to the origin of the base URL; refresh tokens to the auth URL too', () => {
    assert.deepEqual(
      bindingFor('api-key', {baseUrl: 'https://api.example.com/v1', authUrl: 'https://auth.example.com/oauth/token'}),
      {origin: 'https://api.example.com'},
    )
    assert.deepEqual(
      bindingFor('refresh-token', {
        baseUrl: 'https://proxy.example.com',
        authUrl: 'https://auth.example.com/oauth/token',
      }),
      {origin: 'https://proxy.example.com', authOrigin: 'https://auth.example.com'},
    )
  })

  it('a new path on the same origin keeps a token usable; another host, port or scheme blocks it', () => {
    const bound = entry({origin: 'https://api.example.com'})
    assert.equal(originBlock(bound, {baseUrl: 'https://api.example.com/other/v1'}, recordedBinding(bound)), undefined)
    for (const baseUrl of [
      'https://evil.example.com/v1',
      'https://api.example.com:8443/v1',
      'http://api.example.com/v1',
    ]) {
      assert.equal(originBlock(bound, {baseUrl}, recordedBinding(bound))?.from, 'https://api.example.com', baseUrl)
    }
  })

  it('a refresh token whose auth URL moved is blocked, and says where it was refreshed', () => {
    const bound = entry({
      kind: 'refresh-token',
      origin: 'https://proxy.example.com',
      authOrigin: 'https://auth.example.com',
    })
    const block = originBlock(
      bound,
      {baseUrl: 'https://proxy.example.com', authUrl: 'https://collector.example.net/token'},
      recordedBinding(bound),
    )
    assert.deepEqual(
      [block?.from, block?.to],
      [
        'https://proxy.example.com (refreshed at https://auth.example.com)',
        'https://proxy.example.com (refreshed at https://collector.example.net)',
      ],
    )
  })

  it('an entry without a binding uses what was recorded for the same version of it, else has none yet', () => {
    const legacy = entry()
    assert.equal(recordedBinding(legacy), undefined)
    assert.deepEqual(recordedBinding(legacy, {addedAt: legacy.addedAt, origin: 'https://a.example'}), {
      origin: 'https://a.example',
    })
    assert.equal(recordedBinding(legacy, {addedAt: '2024-01-01T00:00:00.000Z', origin: 'https://a.example'}), undefined)
  })
})
