import type {Context} from '../core/context.js'
import {errorMessage} from '../core/errors.js'
import {RefreshRefusedError, cachedAccessToken, renewToken, renewalMargin} from '../core/refresh.js'
import type {Logger} from './logger.js'
import type {CredentialPool} from './pool.js'
import type {Registry} from './registry.js'
import {own} from '../core/own.js'

export type RenewResult = {ok: boolean; detail: string; expiresAt?: string}

const RETRY_MS = 30_000

/**
 * Keeps every refresh-token token supplied with a valid access token: the cached one at
 * start when it is still good, else an exchange; a renewal timed before expiry; one on
 * demand (a 401 from the upstream, or `gptconv tokens refresh` through /admin). This
 * daemon is the only process rotating its tokens while it runs.
 */
export class TokenRefresher {
  readonly #timers = new Map<string, NodeJS.Timeout>()
  readonly #running = new Map<string, Promise<RenewResult>>()
  #closed = false

  constructor(
    private readonly ctx: Context,
    private readonly registry: Registry,
    private readonly pool: CredentialPool,
    private readonly log: Logger,
  ) {}

  /** Bring new refresh-token tokens up (cached access or exchange); forget removed ones. */
  async sync(): Promise<void> {
    // a blocked token (its upstream points elsewhere now) is not exchanged: the refresh token would go there
    const tokens = this.registry.tokens.filter((t) => t.kind === 'refresh-token' && !t.blocked)
    for (const label of this.#timers.keys()) {
      if (!tokens.some((t) => t.label === label)) {
        clearTimeout(this.#timers.get(label))
        this.#timers.delete(label)
      }
    }

    await Promise.all(
      tokens
        .filter((t) => (t.expiresAt ?? 0) <= Date.now() && !this.#running.has(t.label))
        .map(async (t) => {
          const entry = own(this.registry.settings.tokens, t.label)
          const cached = entry && (await cachedAccessToken(this.ctx, entry, 30_000).catch(() => undefined))
          if (cached) this.#apply(t.label, cached.accessToken, cached.expiresAt.getTime(), cached.account)
          else await this.renew(t.label)
        }),
    )
  }

  /** Exchange now (merged with a renewal already running for this token). */
  renew(label: string): Promise<RenewResult> {
    let running = this.#running.get(label)
    if (!running) {
      running = this.#renew(label).finally(() => this.#running.delete(label))
      this.#running.set(label, running)
    }

    return running
  }

  async #renew(label: string): Promise<RenewResult> {
    const token = this.registry.token(label)
    const entry = own(this.registry.settings.tokens, label)
    const upstream = token && this.registry.upstream(token.upstream)
    if (!token || !entry || !upstream || token.kind !== 'refresh-token')
      return {ok: false, detail: `"${label}" is not a refresh-token token of this daemon`}
    if (token.blocked) return {ok: false, detail: `"${label}" is ${token.blocked}`}
    try {
      const exchange = await renewToken({...this.ctx, warn: (m) => this.log.warn(m)}, entry, upstream)
      this.#apply(label, exchange.accessToken, exchange.expiresAt.getTime(), exchange.account, exchange.refreshToken)
      this.pool.enable(label)
      this.log.info(
        {
          token: label,
          expiresAt: exchange.expiresAt.toISOString(),
          rotated: Boolean(exchange.refreshToken),
          shared: Boolean(exchange.shared),
        },
        'access token renewed',
      )
      // the daemon holds a refresh token the store refused and keeps trying to store it: worth saying to whoever asked
      const unstored = exchange.notStored ? `; but ${exchange.notStored.message} [${exchange.notStored.code}]` : ''
      return {
        ok: true,
        detail: `access token valid until ${exchange.expiresAt.toISOString()}${unstored}`,
        expiresAt: exchange.expiresAt.toISOString(),
      }
    } catch (error) {
      const detail = errorMessage(error)
      if (error instanceof RefreshRefusedError) {
        this.pool.disable(label, detail)
        this.log.error({token: label}, `refresh token refused; token disabled: ${detail}`)
      } else {
        this.log.warn({token: label}, `access token renewal failed, retrying in ${RETRY_MS / 1000} s: ${detail}`)
        this.#schedule(label, Date.now() + RETRY_MS)
      }

      return {ok: false, detail}
    }
  }

  #apply(label: string, accessToken: string, expiresAt: number, account?: string, refreshToken?: string): void {
    this.registry.setAccess(label, {token: accessToken, expiresAt, account}, refreshToken)
    this.pool.update(this.registry.tokens)
    this.#schedule(label, expiresAt - renewalMargin(Math.max(0, expiresAt - Date.now())))
  }

  #schedule(label: string, at: number): void {
    if (this.#closed) return
    clearTimeout(this.#timers.get(label))
    const timer = setTimeout(() => void this.renew(label), Math.min(2 ** 31 - 1, Math.max(1000, at - Date.now())))
    timer.unref()
    this.#timers.set(label, timer)
  }

  close(): void {
    this.#closed = true
    for (const timer of this.#timers.values()) clearTimeout(timer)
    this.#timers.clear()
  }
}
