import assert from 'node:assert/strict'
import type {IncomingMessage} from 'node:http'
import {describe, it} from 'node:test'

import {isLoopback, listenAddress} from '../../src/core/net.js'
import {connectionCap} from '../../src/daemon/connections.js'
import {refuseRemote} from '../../src/daemon/exposure.js'
import {MAX_MODEL_LABELS, Metrics, OTHER} from '../../src/daemon/metrics.js'
import {CredentialPool} from '../../src/daemon/pool.js'
import {checkHost} from '../../src/daemon/security.js'

const request = (host: string, localAddress: string) =>
  ({headers: {host}, socket: {localAddress}}) as unknown as IncomingMessage

describe('loopback and remote listening', () => {
  it('knows loopback addresses and names from the rest', () => {
    for (const host of [
      '127.0.0.1',
      '127.8.9.10',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
      'localhost',
      'api.localhost',
      'LOCALHOST',
    ])
      assert.equal(isLoopback(host), true, host)
    for (const host of [
      '0.0.0.0',
      '::',
      '[::]',
      '192.168.1.5',
      '10.0.0.1',
      'example.com',
      'my-laptop',
      '::ffff:10.0.0.1',
    ])
      assert.equal(isLoopback(host), false, host)
    assert.equal(listenAddress('::', 8787), '[::]:8787')
    assert.equal(listenAddress('0.0.0.0', 8787), '0.0.0.0:8787')
  })

  it('refuses a non-loopback address unless allowed, with the flag and the setting in the hint', () => {
    assert.throws(
      () => refuseRemote('0.0.0.0', false),
      (error: Error & {code?: string; exitCode?: number; hint?: string}) => {
        assert.equal(error.code, 'GPTCONV_REMOTE_REFUSED')
        assert.equal(error.exitCode, 2)
        assert.match(error.message, /^Refusing to listen on 0\.0\.0\.0: it is not a loopback address/)
        assert.match(error.hint!, /gptconv serve --allow-remote \(or gptconv config set server\.allowRemote true\)/)
        return true
      },
    )
    assert.doesNotThrow(() => refuseRemote('0.0.0.0', true))
    assert.doesNotThrow(() => refuseRemote('127.0.0.1', false))
  })

  it('beyond loopback, a Host that is an IP literal must be loopback or the address the request arrived at', () => {
    const allowed = ['gw.internal']
    assert.doesNotThrow(() => checkHost(request('10.9.8.7:8787', '10.9.8.7'), allowed, true))
    assert.doesNotThrow(() => checkHost(request('10.9.8.7:8787', '::ffff:10.9.8.7'), allowed, true))
    assert.doesNotThrow(() => checkHost(request('127.0.0.1:8787', '10.9.8.7'), allowed, true))
    assert.doesNotThrow(() => checkHost(request('[::1]:8787', '10.9.8.7'), allowed, true))
    assert.doesNotThrow(() => checkHost(request('gw.internal:8787', '10.9.8.7'), allowed, true))
    assert.throws(() => checkHost(request('10.1.1.1:8787', '10.9.8.7'), allowed, true), {
      code: 'host_not_allowed',
      message:
        'Host "10.1.1.1" is not allowed. gptconv answers only to loopback names and addresses, the address a request arrived at and the hosts in server.allowedHosts (gptconv config set server.allowedHosts 10.1.1.1).',
    })
    // on loopback, any IP literal is fine: a rebinding page reaches the daemon only under a name
    assert.doesNotThrow(() => checkHost(request('10.1.1.1:8787', '127.0.0.1'), allowed, false))
  })

  it('keeps the connection cap below the open-file limit, leaving room for an upstream socket per connection', () => {
    assert.equal(connectionCap(4096, 1024), 480)
    assert.equal(connectionCap(4096, 65_536), 4096)
    assert.equal(connectionCap(4096, 80), 16)
    assert.equal(connectionCap(4096, undefined), 4096)
  })
})

describe('metrics labels are bounded', () => {
  it('counts models outside the known set under "other", and at most MAX_MODEL_LABELS names', () => {
    const metrics = new Metrics(new CredentialPool({queueTimeoutMs: 1000, queueLimit: 10, cooldownMs: 1000}))
    metrics.configure(['my-model', ...Array.from({length: MAX_MODEL_LABELS + 50}, (_, i) => `conf-${i}`)])
    assert.equal(metrics.modelLabel('my-model'), 'my-model')
    assert.equal(metrics.modelLabel('made-up-by-a-client'), OTHER)
    metrics.knowModels(['listed-by-upstream'])
    assert.equal(metrics.modelLabel('listed-by-upstream'), 'listed-by-upstream')
    const labels = new Set(Array.from({length: MAX_MODEL_LABELS + 50}, (_, i) => metrics.modelLabel(`conf-${i}`)))
    assert.equal(labels.size, MAX_MODEL_LABELS - 2 + 1)
    assert.ok(labels.has(OTHER))
  })
})

describe('metrics counts', () => {
  it('adds each count to the series of its own labels, values that share a prefix kept apart', async () => {
    const metrics = new Metrics(new CredentialPool({queueTimeoutMs: 1000, queueLimit: 10, cooldownMs: 1000}))
    metrics.configure(['gpt-4o-mini', 'gpt-4o'])
    for (const [route, status] of [
      ['chat', 200],
      ['chat', 200],
      ['chat', 429],
      ['chats', 200],
      ['completions', 200],
    ] as const)
      metrics.request(route, status, 0.01)
    metrics.countTokens('a', 'gpt-4o-mini', 'prompt', 5)
    metrics.countTokens('a', 'gpt-4o-mini', 'prompt', 7)
    metrics.countTokens('a', 'gpt-4o-mini', 'completion', 3)
    metrics.countTokens('a', 'gpt-4o', 'prompt', 1)
    metrics.countTokens('ab', 'gpt-4o-mini', 'prompt', 2)
    metrics.countTokens('a', 'gpt-4o', 'completion', 0) // nothing: no series
    metrics.countAttempt('a', 'ok')
    metrics.countAttempt('a', 'ok')
    metrics.countAttempt('a', 'rate-limited')
    const text = await metrics.registry.metrics()
    const series = (name: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith(`${name}{`))
        .sort()
    assert.deepEqual(series('gptconv_requests_total'), [
      'gptconv_requests_total{route="chat",status="200"} 2',
      'gptconv_requests_total{route="chat",status="429"} 1',
      'gptconv_requests_total{route="chats",status="200"} 1',
      'gptconv_requests_total{route="completions",status="200"} 1',
    ])
    assert.deepEqual(series('gptconv_tokens_total'), [
      'gptconv_tokens_total{upstream="a",model="gpt-4o",type="prompt"} 1',
      'gptconv_tokens_total{upstream="a",model="gpt-4o-mini",type="completion"} 3',
      'gptconv_tokens_total{upstream="a",model="gpt-4o-mini",type="prompt"} 12',
      'gptconv_tokens_total{upstream="ab",model="gpt-4o-mini",type="prompt"} 2',
    ])
    assert.deepEqual(series('gptconv_upstream_attempts_total'), [
      'gptconv_upstream_attempts_total{upstream="a",outcome="ok"} 2',
      'gptconv_upstream_attempts_total{upstream="a",outcome="rate-limited"} 1',
    ])
  })
})
