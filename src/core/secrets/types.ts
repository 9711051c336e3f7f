import type {SecretStoreKind} from '../config.js'

/**
 * Where secrets live. The index of tokens (labels, kinds, masked forms) is in the config
 * file; only the secret values are here, keyed by account: the token label, `<label>#access`
 * for a cached access token, `#client-key` for the daemon's local client key.
 */
export interface SecretStore {
  readonly kind: SecretStoreKind
  /** human description: "OS keychain (service gptconv)" or the file's path */
  readonly location: string
  get(account: string): Promise<string | null>
  set(account: string, secret: string): Promise<void>
  /** true when something was deleted */
  delete(account: string): Promise<boolean>
}

export const CLIENT_KEY_ACCOUNT = '#client-key'
export const accessAccount = (label: string) => `${label}#access`
