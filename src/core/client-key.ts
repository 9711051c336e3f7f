import {randomBytes} from 'node:crypto'

import type {Context} from './context.js'
import {KeychainUnavailableError} from './errors.js'
import {CLIENT_KEY_ACCOUNT, openSecretStore, storeOfKind} from './secrets/index.js'

/**
 * The daemon's local client key: every HTTP client sends it as `Authorization: Bearer`.
 * Generated once and kept in the secret store. It starts with `sk-` because some apps
 * refuse keys that do not look like OpenAI's.
 */
export async function clientKey(ctx: Context, options: {create: boolean}): Promise<string | undefined> {
  const store = await openSecretStore({env: ctx.env, warn: ctx.warn})
  const settings = await ctx.config.read()
  // Made in a keychain that is locked now: another key would lock out every configured client.
  if (settings.clientKeyStore === 'keychain' && store.kind !== 'keychain' && ctx.env.GPTCONV_SECRET_STORE !== 'file') {
    throw new KeychainUnavailableError('The local client key is kept in the OS keychain, which cannot be used now.', {
      hint: 'Unlock your keychain (on Linux: a running, unlocked Secret Service such as gnome-keyring) and try again. Nothing was changed.',
    })
  }

  let key = await store.get(CLIENT_KEY_ACCOUNT)
  let where = store.kind
  // made while no keychain was usable: keep using it rather than changing every client's key
  if (!key && store.kind === 'keychain') {
    key = await storeOfKind('file', {env: ctx.env}).get(CLIENT_KEY_ACCOUNT)
    where = 'file'
  }

  if (!key && options.create) {
    key = `sk-gptconv-${randomBytes(24).toString('base64url')}`
    await store.set(CLIENT_KEY_ACCOUNT, key)
    where = store.kind
  }

  // the record follows the key (keys made before gptconv kept one are recorded when next read)
  if (key && settings.clientKeyStore !== where) await ctx.config.update((s) => void (s.clientKeyStore = where))
  return key ?? undefined
}
