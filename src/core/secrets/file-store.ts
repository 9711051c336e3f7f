import {readFile} from 'node:fs/promises'
import {chmodSync, existsSync} from 'node:fs'
import {dirname} from 'node:path'
import lockfile from 'proper-lockfile'

import {SecretStoreError, errorMessage} from '../errors.js'
import {ensureStateDir} from '../paths.js'
import {writeStateFile} from '../state-files.js'
import type {SecretStore} from './types.js'

type SecretsFile = {version: 1; secrets: Record<string, string>}

/**
 * Headless fallback: `secrets.json` (mode 0600, directory 0700) in the state directory.
 * Not encrypted — it is exactly as safe as the user's home directory — so every write
 * calls `onWrite` to warn. Writes are locked (CLI and daemon may both write) and atomic.
 */
export class FileStore implements SecretStore {
  readonly kind = 'file' as const
  readonly location: string
  readonly #onWrite: (() => void) | undefined

  constructor(path: string, onWrite?: () => void) {
    this.location = path
    this.#onWrite = onWrite
  }

  async get(account: string): Promise<string | null> {
    return (await this.#read()).secrets[account] ?? null
  }

  async set(account: string, secret: string): Promise<void> {
    await this.#update((secrets) => {
      secrets[account] = secret
    })
    this.#onWrite?.()
  }

  async delete(account: string): Promise<boolean> {
    if (!existsSync(this.location)) return false
    return this.#update((secrets) => {
      const had = account in secrets
      delete secrets[account]
      return had
    })
  }

  async #read(): Promise<SecretsFile> {
    let text: string
    try {
      text = await readFile(this.location, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {version: 1, secrets: {}}
      throw new SecretStoreError(`Cannot read ${this.location}: ${errorMessage(error)}.`)
    }

    try {
      const data = JSON.parse(text) as SecretsFile
      if (typeof data?.secrets !== 'object' || data.secrets === null) throw new Error('no "secrets" object')
      return data
    } catch (error) {
      // never echo the file's content: it holds secrets
      throw new SecretStoreError(
        `The secrets file ${this.location} is damaged (${error instanceof SyntaxError ? 'not valid JSON' : errorMessage(error)}).`,
        {
          hint: 'Restore it from a backup or move it away and add the tokens again with `gptconv tokens add`.',
        },
      )
    }
  }

  async #update<T>(change: (secrets: Record<string, string>) => T): Promise<T> {
    ensureStateDir(dirname(this.location))
    const release = await lockfile.lock(this.location, {
      realpath: false,
      retries: {retries: 50, minTimeout: 20, maxTimeout: 200},
      stale: 10_000,
    })
    try {
      const data = await this.#read()
      const result = change(data.secrets)
      // never through a link: a `secrets.json` linked elsewhere would put every secret there
      await writeStateFile(this.location, JSON.stringify(data, null, 2) + '\n')
      chmodSync(this.location, 0o600) // an existing file keeps its old mode through a rename on some systems
      return result
    } finally {
      await release()
    }
  }
}
