/** What aborts a request's work: the read side of an AbortSignal, which an AbortSignal also is. */
export interface Cancellation {
  readonly aborted: boolean
  readonly reason: unknown
  throwIfAborted(): void
  addEventListener(type: 'abort', listener: AbortListener, options?: {once?: boolean}): void
  removeEventListener(type: 'abort', listener: AbortListener): void
}

export type AbortListener = (() => void) | {handleEvent(): void}

/**
 * The cancellation of one request (the client left, or the daemon shuts down): a plain
 * object with a list of listeners, each called once. An AbortController per request made
 * an EventTarget with its maps and listener records — about 2.4 KB and a few µs of every
 * request, for an abort that almost never comes.
 */
export class RequestAbort implements Cancellation {
  aborted = false
  reason: unknown = undefined
  #listeners: AbortListener[] | undefined

  addEventListener(_type: 'abort', listener: AbortListener): void {
    if (this.aborted) return
    ;(this.#listeners ??= []).push(listener)
  }

  removeEventListener(_type: 'abort', listener: AbortListener): void {
    const listeners = this.#listeners
    const at = listeners ? listeners.lastIndexOf(listener) : -1
    if (at !== -1) listeners!.splice(at, 1)
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason
  }

  /** Abort once: every listener is called, in the order they were added; the first one that threw throws after all ran. */
  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    const listeners = this.#listeners ?? []
    this.#listeners = undefined
    let failure: {error: unknown} | undefined
    for (const listener of listeners)
      try {
        if (typeof listener === 'function') listener()
        else listener.handleEvent()
      } catch (error) {
        failure ??= {error}
      }

    if (failure) throw failure.error
  }
}
