/**
 * What was sent of one growing text, and what to send next. Normally the text only grows and
 * the delta is the new end. The backend may also rewrite text already sent (a `truncate` or
 * `replace` patch, a snapshot that changed earlier words): what reached the client cannot be
 * taken back, so the emitter waits until the new text is longer than what was sent, then
 * sends all of it from where it first differed (at the latest at the end) — no new text is
 * lost, and a text that only shrank (or repeated itself) sends nothing twice.
 */
export class Emitter {
  /** the text the deltas sent so far add up to (after a rewrite: the text they continue) */
  #sent = ''
  /** where a rewritten text first differed from `#sent`, while it is not longer */
  #cut: number | undefined

  /** The part of `text` to send now ('' for nothing); `final` when no more text will come. */
  advance(text: string, final = false): string {
    if (text.startsWith(this.#sent)) {
      // it grew (or came back to what was sent)
      this.#cut = undefined
      const delta = text.slice(this.#sent.length)
      this.#sent = text
      return delta
    }

    this.#cut = Math.min(this.#cut ?? Number.POSITIVE_INFINITY, commonPrefix(this.#sent, text))
    if (text.length <= this.#sent.length && !final) return ''
    const delta = text.slice(this.#cut)
    this.#sent = text
    this.#cut = undefined
    return delta
  }
}

function commonPrefix(a: string, b: string): number {
  let n = 0
  while (n < a.length && n < b.length && a.charCodeAt(n) === b.charCodeAt(n)) n++
  if (n > 0 && /[\uD800-\uDBFF]/.test(a[n - 1]) && n < a.length) n-- // never split a surrogate pair
  return n
}
