import type {Env} from '../paths.js'
import type {SecretStoreKind} from '../config.js'
import {UsageError, errorMessage} from '../errors.js'
import {statePaths} from '../paths.js'
import {FileStore} from './file-store.js'
import {KeychainStore} from './keychain-store.js'
import type {SecretStore} from './types.js'

export type {SecretStore} from './types.js'
export {CLIENT_KEY_ACCOUNT, accessAccount} from './types.js'
export {KeychainStore} from './keychain-store.js'

export type OpenOptions = {
  env?: Env
  /** told once per write to the file store, and why the keychain was not used */
  warn?: (message: string) => void
}

export function keychainService(env: Env = process.env): string {
  return env.GPTCONV_KEYCHAIN_SERVICE || 'gptconv'
}

/** The store a given kind names, without probing (for reading what was stored there). */
export function storeOfKind(
  kind: SecretStoreKind,
  options: OpenOptions = {},
  why = 'not to an OS keychain',
): SecretStore {
  const env = options.env ?? process.env
  if (kind === 'keychain') return new KeychainStore(keychainService(env))
  const path = statePaths(env).secrets
  return new FileStore(path, () => options.warn?.(`Secret written to the plain file ${path} (mode 0600), ${why}.`))
}

/**
 * The store for new secrets. `GPTCONV_SECRET_STORE=keychain|file` forces one (keychain
 * fails with a clear error when unusable); unset, the keychain is probed with a write and
 * a delete and the file store is the fallback, announced through `warn`.
 */
export async function openSecretStore(options: OpenOptions = {}): Promise<SecretStore> {
  const env = options.env ?? process.env
  const forced = env.GPTCONV_SECRET_STORE
  if (forced && forced !== 'keychain' && forced !== 'file') {
    throw new UsageError(`GPTCONV_SECRET_STORE must be "keychain" or "file", not "${forced}".`, {
      hint: 'Unset it to let gptconv choose.',
    })
  }

  if (forced === 'file') return storeOfKind('file', options, 'as GPTCONV_SECRET_STORE=file asks')
  const keychain = new KeychainStore(keychainService(env))
  try {
    await keychain.probe()
    return keychain
  } catch (error) {
    if (forced === 'keychain') throw error
    const reason = errorMessage(error)
      .replace(/^No usable OS keychain: /, '')
      .replace(/\.$/, '')
    return storeOfKind('file', options, `because no OS keychain is usable (${reason})`)
  }
}
