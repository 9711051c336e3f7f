import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {RequestAbort} from '../../src/daemon/cancellation.js'

describe('a request’s cancellation', () => {
  it('calls each listener once, in order, functions and handleEvent objects alike, with the reason set', () => {
    const abort = new RequestAbort()
    const calls: string[] = []
    abort.addEventListener('abort', () => calls.push(`fn ${String(abort.reason)}`))
    abort.addEventListener('abort', {handleEvent: () => calls.push(`object ${String(abort.aborted)}`)})
    abort.abort('gone')
    abort.abort('again')
    assert.deepEqual(calls, ['fn gone', 'object true'])
    assert.equal(abort.reason, 'gone')
    assert.throws(
      () => abort.throwIfAborted(),
      (error) => error === 'gone',
    )
  })

  it('forgets a removed listener, and one added after the abort is never called (as with an AbortSignal)', () => {
    const abort = new RequestAbort()
    const calls: string[] = []
    const removed = () => calls.push('removed')
    const kept = {handleEvent: () => calls.push('kept')}
    abort.addEventListener('abort', removed)
    abort.addEventListener('abort', kept)
    abort.removeEventListener('abort', removed)
    abort.removeEventListener('abort', () => calls.push('never added'))
    assert.doesNotThrow(() => abort.throwIfAborted())
    abort.abort(new Error('x'))
    abort.addEventListener('abort', () => calls.push('late'))
    assert.deepEqual(calls, ['kept'])
  })

  it('runs every listener even when one throws, then throws the first error', () => {
    const abort = new RequestAbort()
    const calls: string[] = []
    abort.addEventListener('abort', () => {
      throw new Error('first')
    })
    abort.addEventListener('abort', () => {
      calls.push('second')
      throw new Error('second')
    })
    abort.addEventListener('abort', () => calls.push('third'))
    assert.throws(() => abort.abort('r'), /first/)
    assert.deepEqual(calls, ['second', 'third'])
  })

  it('lets a listener remove itself (or another) while the abort runs', () => {
    const abort = new RequestAbort()
    const calls: string[] = []
    const second = () => calls.push('second')
    abort.addEventListener('abort', () => {
      calls.push('first')
      abort.removeEventListener('abort', second)
    })
    abort.addEventListener('abort', second)
    abort.abort('r')
    assert.deepEqual(calls, ['first', 'second']) // the listeners of the abort were fixed when it began
  })
})
