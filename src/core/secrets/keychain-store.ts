import {AsyncEntry} from '@napi-rs/keyring'

import {KeychainUnavailableError, SecretStoreError, errorMessage} from '../errors.js'
import type {SecretStore} from './types.js'

/**
 * The OS keychain through @napi-rs/keyring: macOS Keychain, Windows Credential Manager,
 * Secret Service on Linux. On Linux the store is pinned to the Secret Service: the
 * library's default silently falls back to the kernel keyring, which is lost at reboot.
 */
const ENTRY_OPTIONS = {linux: {store: 'secret-service' as const}}
const TIMEOUT_MS = 5000

export class KeychainStore implements SecretStore {
  readonly kind = 'keychain' as const
  readonly location: string
  readonly #service: string

  constructor(service: string) {
    this.#service = service
    this.location = `OS keychain (service ${service})`
  }

  async get(account: string): Promise<string | null> {
    return this.#call('read', account, (entry, signal) => entry.getPassword(signal))
  }

  async set(account: string, secret: string): Promise<void> {
    await this.#call('write', account, (entry, signal) => entry.setPassword(secret, signal))
  }

  async delete(account: string): Promise<boolean> {
    return this.#call('delete', account, (entry, signal) => entry.deleteCredential(signal))
  }

  /**
   * Can this keychain be used right now? Reads cannot tell: a locked or absent keychain
   * answers a read with null. Only a write and a delete of a sentinel entry prove it.
   */
  async probe(): Promise<void> {
    const account = `#probe-${process.pid}-${Date.now()}`
    try {
      const entry = new AsyncEntry(this.#service, account, ENTRY_OPTIONS)
      await entry.setPassword('probe', AbortSignal.timeout(TIMEOUT_MS))
      await entry.deleteCredential(AbortSignal.timeout(TIMEOUT_MS))
    } catch (error) {
      throw new KeychainUnavailableError(`No usable OS keychain: ${describe(error)}.`, {
        hint: 'Unlock your keychain (on Linux: a running, unlocked Secret Service such as gnome-keyring), or set GPTCONV_SECRET_STORE=file to keep secrets in a mode-0600 file instead.',
      })
    }
  }

  async #call<T>(
    what: string,
    account: string,
    op: (entry: AsyncEntry, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    try {
      return await op(new AsyncEntry(this.#service, account, ENTRY_OPTIONS), AbortSignal.timeout(TIMEOUT_MS))
    } catch (error) {
      throw new SecretStoreError(`Cannot ${what} "${account}" in the ${this.location}: ${describe(error)}.`, {
        hint: 'Make sure the keychain is running and unlocked, then try again.',
      })
    }
  }
}

/** Keyring errors carry no secrets; keep only their first line. */
function describe(error: unknown): string {
  if (error instanceof Error && error.name === 'AbortError') return `no answer within ${TIMEOUT_MS / 1000} s`
  return errorMessage(error).split('\n')[0].replace(/\.$/, '')
}
