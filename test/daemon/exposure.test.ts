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
