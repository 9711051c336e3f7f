import assert from 'node:assert/strict'
import {setTimeout as sleep} from 'node:timers/promises'
import {describe, it} from 'node:test'

import {ApiError} from '../../src/daemon/errors.js'
import {CredentialPool, type PoolOptions, type PoolToken, PoolExhaustedError} from '../../src/daemon/pool.js'

const token = (label: string, extra: Partial<PoolToken> = {}): PoolToken => ({
  label,
  addedAt: 't0',
  kind: 'api-key',
  upstream: 'u',
  concurrency: Number.POSITIVE_INFINITY,
  ...extra,
})
const any = () => true
const pool = (tokens: PoolToken[], options: Partial<PoolOptions> = {}) => {
  const p = new CredentialPool({queueTimeoutMs: 1000, queueLimit: 100, cooldownMs: 1000, ...options})
  p.update(tokens)
  return p
}

describe('CredentialPool', () => {
  it('spreads load: fewest in flight, then least recently used', async () => {
    const p = pool([token('a'), token('b')])
    const first = await p.acquire(any)
    const second = await p.acquire(any)
    assert.notEqual(first.token.label, second.token.label, 'the second request goes to the idle token')
    first.release({type: 'ok'})
    second.release({type: 'ok'})
    const third = await p.acquire(any)
    assert.equal(third.token.label, first.token.label, 'least recently used next')
  })

  it('never exceeds a concurrency cap; a waiter gets the slot when it frees', async () => {
    const p = pool([token('one', {concurrency: 1})])
    const a = await p.acquire(any)
    let served = false
    const waiting = p.acquire(any).then((lease) => {
      served = true
      return lease
    })
    await sleep(20)
    assert.equal(served, false)
    assert.equal(p.queueLength, 1)
    assert.equal(p.snapshot()[0].inFlight, 1)
    a.release({type: 'ok'})
    const b = await waiting
    assert.equal(b.token.label, 'one')
    assert.equal(p.snapshot()[0].inFlight, 1)
    b.release({type: 'ok'})
    b.release({type: 'ok'})
    assert.equal(p.snapshot()[0].inFlight, 0, 'a second release is ignored')
  })

  it('serves the queue first in, first out', async () => {
    const p = pool([token('one', {concurrency: 1})])
    const held = await p.acquire(any)
    const order: number[] = []
    const waiters = [1, 2, 3].map((n) =>
      p.acquire(any).then((lease) => {
        order.push(n)
        lease.release({type: 'ok'})
      }),
    )
    held.release({type: 'ok'})
    await Promise.all(waiters)
    assert.deepEqual(order, [1, 2, 3])
  })

  it('times out a waiter with 429 pool_exhausted and Retry-After', async () => {
    const p = pool([token('one', {concurrency: 1})], {queueTimeoutMs: 60})
    const held = await p.acquire(any)
    await assert.rejects(
      p.acquire(any),
      (e: unknown) =>
        e instanceof PoolExhaustedError &&
        e.status === 429 &&
        e.code === 'pool_exhausted' &&
        e.headers['retry-after'] === '1',
    )
    assert.equal(p.queueLength, 0)
    held.release({type: 'ok'})
  })

  it('refuses at once when the queue is full', async () => {
    const p = pool([token('one', {concurrency: 1})], {queueLimit: 1, queueTimeoutMs: 5000})
    const held = await p.acquire(any)
    const queued = p.acquire(any)
    await assert.rejects(p.acquire(any), /the queue is full/)
    held.release({type: 'ok'})
    ;(await queued).release({type: 'ok'})
  })

  it('cools a rate-limited token down for Retry-After (at least 1 s) and brings it back by itself', async () => {
    const p = pool([token('a'), token('b')], {queueTimeoutMs: 3000})
    const a = await p.acquire((t) => t.label === 'a')
    a.release({type: 'rate-limited', retryAfterMs: 150})
    assert.equal(p.snapshot()[0].state, 'cooling-down')
    const other = await p.acquire(any)
    assert.equal(other.token.label, 'b', 'the cooling token is skipped')
    other.release({type: 'ok'})
    const started = Date.now()
    const back = await p.acquire((t) => t.label === 'a')
    assert.ok(Date.now() - started >= 900, 'waited for the cooldown, which is never shorter than a second')
    assert.equal(back.token.label, 'a')
    back.release({type: 'ok'})
  })

  it('says how long to wait when every token cools down', async () => {
    const p = pool([token('a')], {queueTimeoutMs: 50})
    ;(await p.acquire(any)).release({type: 'rate-limited', retryAfterMs: 20_000})
    await assert.rejects(
      p.acquire(any),
      (e: unknown) => e instanceof PoolExhaustedError && Number(e.headers['retry-after']) >= 19,
    )
  })

  it('disables a refused token, and answers 503 naming why when none is left', async () => {
    const p = pool([token('a'), token('b')])
    ;(await p.acquire((t) => t.label === 'a')).release({type: 'refused', reason: 'upstream answered 401: bad key'})
    ;(await p.acquire(any)).release({type: 'refused', reason: 'upstream answered 403: banned'})
    await assert.rejects(
      p.acquire(any),
      (e: unknown) =>
        e instanceof ApiError &&
        e.status === 503 &&
        e.code === 'no_available_tokens' &&
        /a: disabled \(upstream answered 401: bad key\)/.test(e.message) &&
        /b: disabled/.test(e.message),
    )
    assert.deepEqual(p.runtime().a.disabled?.reason, 'upstream answered 401: bad key')
    p.enable('a')
    ;(await p.acquire(any)).release({type: 'ok'})
  })

  it('rejects waiters when the last usable token is disabled', async () => {
    const p = pool([token('a', {concurrency: 1})])
    const held = await p.acquire(any)
    const waiting = p.acquire(any)
    held.release({type: 'refused', reason: 'upstream answered 401'})
    await assert.rejects(waiting, /Every token that could serve this request is unusable/)
  })

  it('after repeated failures a token goes behind the others, and a request never waits for it', async () => {
    const p = pool([token('a')], {failureThreshold: 2, cooldownMs: 60_000})
    ;(await p.acquire(any)).release({type: 'failure', reason: '500'})
    assert.equal(p.snapshot()[0].failingUntil, null)
    ;(await p.acquire(any)).release({type: 'failure', reason: '500'})
    assert.equal(p.snapshot()[0].state, 'ok')
    assert.notEqual(p.snapshot()[0].failingUntil, null)
    assert.equal(p.snapshot()[0].failures, 2)
    // the only token: it is tried at once, not after the minute of its failure cooldown
    const started = Date.now()
    const lease = await p.acquire(any)
    assert.ok(Date.now() - started < 100)
    lease.release({type: 'ok'})
    assert.equal(p.snapshot()[0].failingUntil, null, 'an answer clears it')

    const two = pool([token('a'), token('b')], {failureThreshold: 1, cooldownMs: 60_000})
    ;(await two.acquire(any)).release({type: 'failure', reason: '502'})
    const failed = two.snapshot().find((t) => t.failingUntil !== null)!.label
    for (let i = 0; i < 3; i++) {
      const next = await two.acquire(any)
      assert.notEqual(next.token.label, failed, 'the failing token goes last')
      next.release({type: 'ok'})
    }
  })

  it('prefers tokens an earlier attempt did not try', async () => {
    const p = pool([token('a'), token('b')])
    ;(await p.acquire(any)).release({type: 'ok'})
    const lease = await p.acquire(any, {exclude: new Set(['b'])})
    assert.equal(lease.token.label, 'a')
    lease.release({type: 'ok'})
    const again = await p.acquire(any, {exclude: new Set(['a', 'b'])})
    assert.ok(again, 'an excluded token is still used when it is the only one')
    again.release({type: 'ok'})
  })

  it('holds a requests-per-minute cap', async () => {
    const p = pool([token('a', {rpm: 2})], {queueTimeoutMs: 50})
    ;(await p.acquire(any)).release({type: 'ok'})
    ;(await p.acquire(any)).release({type: 'ok'})
    await assert.rejects(p.acquire(any), PoolExhaustedError)
    assert.equal(p.snapshot()[0].requestsLastMinute, 2)
  })

  it('shares one concurrency slot across a group (one ChatGPT account)', async () => {
    const p = pool([token('x1', {concurrency: 1, group: 'acct'}), token('x2', {concurrency: 1, group: 'acct'})], {
      queueTimeoutMs: 50,
    })
    const held = await p.acquire(any)
    await assert.rejects(p.acquire(any), PoolExhaustedError)
    held.release({type: 'ok'})
  })

  it('never uses an expired token', async () => {
    const p = pool([token('old', {expiresAt: Date.now() - 1}), token('new')])
    const lease = await p.acquire(any)
    assert.equal(lease.token.label, 'new')
    await assert.rejects(
      p.acquire((t) => t.label === 'old'),
      /expired at/,
    )
  })

  it('keeps runtime state across a reload, but not for a replaced token', async () => {
    const p = pool([token('a'), token('b')])
    ;(await p.acquire((t) => t.label === 'a')).release({type: 'refused', reason: 'r'})
    ;(await p.acquire((t) => t.label === 'b')).release({type: 'rate-limited', retryAfterMs: 10_000})
    p.update([token('a'), token('b', {addedAt: 't1'})])
    assert.equal(p.snapshot()[0].state, 'disabled')
    assert.equal(p.snapshot()[1].state, 'ok')
  })

  it('restores persisted state for the same token version only', () => {
    const p = new CredentialPool({queueTimeoutMs: 10, queueLimit: 1, cooldownMs: 10})
    const until = new Date(Date.now() + 60_000).toISOString()
    p.update([token('a'), token('b'), token('c')], {
      a: {addedAt: 't0', disabled: {reason: 'old news', at: until}},
      b: {addedAt: 't0', coolingUntil: until},
      c: {addedAt: 'older', disabled: {reason: 'stale', at: until}},
    })
    assert.deepEqual(
      p.snapshot().map((t) => t.state),
      ['disabled', 'cooling-down', 'ok'],
    )
  })

  it('gives up waiting when the client goes away', async () => {
    const p = pool([token('one', {concurrency: 1})])
    const held = await p.acquire(any)
    const controller = new AbortController()
    const waiting = p.acquire(any, {signal: controller.signal})
    controller.abort(new Error('client gone'))
    await assert.rejects(waiting, /client gone/)
    assert.equal(p.queueLength, 0)
    held.release({type: 'ok'})
  })
})
