import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'

import {writeStateFile} from '../core/state-files.js'

import {loadModelFacts, modelFacts} from '../core/model-facts.js'
import {countMessages} from '../core/tokenizer.js'
import type {Logger} from './logger.js'
import type {ChatMessage} from './protocols/chat/types.js'

/**
 * Server-side conversation memory for simple clients (docs/protocols.md §7): history by session
 * id, namespaced by client key, expiring `sessions.ttlMinutes` after last use (sliding),
 * trimmed to fit the model's context. Turns of one session run one after another, so two
 * concurrent requests cannot interleave its history; a failed turn adds nothing. Sessions
 * are kept in `sessions.json` (atomic writes) and survive a daemon restart.
 */

type Session = {system: ChatMessage[]; history: ChatMessage[]; model?: string; lastUsed: number}
type SessionsFile = {version: 1; sessions: Record<string, Session>}

/** What a turn needs: the full message list to send, the model, and how to record the answer. */
export type Turn = {messages: ChatMessage[]; model: string; commit(reply: string): void}

const DEFAULT_CONTEXT = 128_000
/** Reserved for the answer when the request does not say (`max_tokens`). */
const ANSWER_RESERVE = 4096

async function contextWindow(model: string): Promise<number> {
  await loadModelFacts()
  return modelFacts(model).contextWindow ?? DEFAULT_CONTEXT
}

/** Token counts of messages already counted (each stored message is counted once, not on every turn). */
const counted = new WeakMap<object, number>()

/**
 * The messages to send: system (the request's, else the session's), the stored history
 * with its oldest turns dropped until everything fits the context, then the new messages.
 * Each message is counted once; the cut is found with a running sum from the newest turn
 * back, and lands at a user message so the history still starts with one.
 */
export async function composeMessages(
  session: {system: ChatMessage[]; history: ChatMessage[]},
  incoming: ChatMessage[],
  model: string,
  maxTokens: number | undefined,
): Promise<{messages: ChatMessage[]; system: ChatMessage[]}> {
  const requestSystem = incoming.filter((m) => m.role === 'system' || m.role === 'developer')
  const system = requestSystem.length > 0 ? requestSystem : session.system
  const fresh = incoming.filter((m) => m.role !== 'system' && m.role !== 'developer')
  const budget = (await contextWindow(model)) - (maxTokens ?? ANSWER_RESERVE)
  const {history} = session
  const sum = (counts: number[]) => counts.reduce((a, b) => a + b, 0)
  let total = 3 + sum(await countMessages(system, model, counted)) + sum(await countMessages(fresh, model, counted))
  const counts = await countMessages(history, model, counted)
  let keep = history.length
  while (keep > 0 && total + counts[keep - 1] <= budget) total += counts[--keep]
  if (keep > 0) while (keep < history.length && history[keep].role !== 'user') keep++
  return {messages: [...system, ...history.slice(keep), ...fresh], system}
}

/** The newest turns of a history, at most `max` messages, starting at a user message. */
export function capHistory(history: ChatMessage[], max: number): ChatMessage[] {
  if (history.length <= max) return history
  let from = history.length - max
  while (from < history.length && history[from].role !== 'user') from++
  return history.slice(from)
}

export class SessionStore {
  readonly #sessions = new Map<string, Session>()
  readonly #locks = new Map<string, Promise<unknown>>()
  #timer: NodeJS.Timeout | undefined
  #sweeper: NodeJS.Timeout
  #writing: Promise<void> = Promise.resolve()

  constructor(
    private readonly path: string,
    private ttlMs: number,
    private readonly log: Logger,
    /** messages kept per session (the oldest turns go first) */
    public maxMessages = 1000,
  ) {
    this.#load()
    this.#sweeper = setInterval(() => this.#sweep(), 60_000)
    this.#sweeper.unref()
  }

  set ttlMinutes(minutes: number) {
    this.ttlMs = minutes * 60_000
  }

  /** Sessions are namespaced by the client key that made them. */
  static key(clientKey: string, sessionId: string): string {
    return createHash('sha256').update(clientKey).update('\u0000').update(sessionId).digest('hex')
  }

  /** Run one turn of a session, after the turns before it; `commit` inside `run` records the answer. */
  async turn<T>(
    key: string,
    incoming: ChatMessage[],
    options: {model?: string; defaultModel: string; maxTokens?: number},
    run: (turn: Turn) => Promise<T>,
  ): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve()
    const current = previous
      .catch(() => {})
      .then(async () => {
        const session = this.#live(key)
        const model = options.model ?? session?.model ?? options.defaultModel
        const composed = await composeMessages(session ?? {system: [], history: []}, incoming, model, options.maxTokens)
        return run({
          messages: composed.messages,
          model,
          commit: (reply) => {
            // the (trimmed) history, this turn's messages, the answer
            const history = capHistory(
              [...composed.messages.slice(composed.system.length), {role: 'assistant', content: reply}],
              this.maxMessages,
            )
            this.#sessions.set(key, {system: composed.system, history, model, lastUsed: Date.now()})
            this.#schedule()
          },
        })
      })
    this.#locks.set(key, current)
    try {
      return await current
    } finally {
      if (this.#locks.get(key) === current) this.#locks.delete(key)
    }
  }

  delete(key: string): boolean {
    const had = this.#sessions.delete(key)
    if (had) this.#schedule()
    return had
  }

  async flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const data: SessionsFile = {version: 1, sessions: Object.fromEntries(this.#sessions)}
    this.#writing = this.#writing.then(() =>
      writeStateFile(this.path, JSON.stringify(data) + '\n').catch((error: unknown) => {
        this.log.error({err: (error as Error).message}, 'cannot write the sessions file')
      }),
    )
    await this.#writing
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    await this.flush()
  }

  #live(key: string): Session | undefined {
    const session = this.#sessions.get(key)
    if (session && Date.now() - session.lastUsed > this.ttlMs) {
      this.#sessions.delete(key)
      return undefined
    }

    return session
  }

  #sweep(): void {
    let changed = false
    for (const key of [...this.#sessions.keys()]) changed = this.#live(key) === undefined || changed
    if (changed) this.#schedule()
  }

  #schedule(): void {
    if (this.#timer) return
    this.#timer = setTimeout(() => void this.flush(), 250)
    this.#timer.unref()
  }

  #load(): void {
    try {
      const data = JSON.parse(readFileSync(this.path, 'utf8')) as SessionsFile
      for (const [key, session] of Object.entries(data.sessions ?? {})) {
        if (Array.isArray(session?.history) && Date.now() - session.lastUsed <= this.ttlMs)
          this.#sessions.set(key, session)
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        this.log.warn({err: (error as Error).message}, 'the sessions file cannot be read; starting without sessions')
    }
  }
}
