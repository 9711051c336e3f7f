/**
 * After a burst of traffic V8 keeps the heap it grew for it, long after the traffic is
 * gone. When the daemon started with --expose-gc (it does: see DAEMON_NODE_FLAGS) and
 * nothing has been in flight for IDLE_MS after serving requests, one full collection gives
 * that memory back (in the soak test: heap 100 → 41 MB, RSS −50 MB). Not sooner: the
 * collection has a price, paid by the next burst — V8 deoptimizes the code whose object
 * shapes died in it (`--trace-deopt`: 233 deoptimizations against 89), and a burst right
 * after one used 300–390 instead of about 200 µs of CPU per request. Traffic that pauses
 * for less than IDLE_MS never pays it. GPTCONV_IDLE_COLLECT_MS sets another wait (tests).
 */
export class IdleCollector {
  static readonly IDLE_MS = Number(process.env.GPTCONV_IDLE_COLLECT_MS) || 30_000
  #timer: NodeJS.Timeout | undefined
  #lastIdle = 0
  readonly #gc = (globalThis as {gc?: () => void}).gc

  constructor(private readonly isIdle: () => boolean) {}

  /** Called each time the daemon becomes idle: collects once it stayed idle for IDLE_MS. */
  schedule(): void {
    if (!this.#gc) return
    this.#lastIdle = Date.now()
    if (!this.#timer) this.#arm(IdleCollector.IDLE_MS)
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (!this.isIdle()) return // the next idle moment arms it again
      const wait = this.#lastIdle + IdleCollector.IDLE_MS - Date.now()
      if (wait > 0) this.#arm(wait)
      else this.#gc!()
    }, ms)
    this.#timer.unref()
  }
}
