import {randomBytes} from 'node:crypto'

import type {Context} from './context.js'
import {CLIENT_KEY_ACCOUNT, openSecretStore, storeOfKind} from './secrets/index.js'

/**
 * The daemon's local client key: every HTTP client sends it as `Authorization: Bearer`.
 * Generated once and kept in the secret store. It starts with `sk-` because some apps
 * refuse keys that do not look like OpenAI's.
 */
export async function clientKey(ctx: Context, options: {create: boolean}): Promise<string | undefined> {
  const store = await openSecretStore({env: ctx.env, warn: ctx.warn})
  let key = await store.get(CLIENT_KEY_ACCOUNT)
  // made while no keychain was usable: keep using it rather than changing every client's key
  if (!key && store.kind === 'keychain') key = await storeOfKind('file', {env: ctx.env}).get(CLIENT_KEY_ACCOUNT)
  if (key || !options.create) return key ?? undefined
  key = `sk-gptconv-${randomBytes(24).toString('base64url')}`
  await store.set(CLIENT_KEY_ACCOUNT, key)
  return key
}
