import {chmod, mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {CodexAuthServer, type CodexAuthOptions} from './fake-codex-auth.js'
import {CodexBackendServer, type CodexBackendOptions} from './fake-codex-backend.js'
import type {CodexAccount, CodexTokens} from './fake-codex-tokens.js'

/**
 * Fakes of what a ChatGPT plan is served through by Codex CLI, for tests: the OAuth server
 * (https://auth.openai.com) and the Codex backend (https://chatgpt.com/backend-api), each on its
 * own 127.0.0.1 port, sharing one token registry. See fake-codex-auth.ts and
 * fake-codex-backend.ts for what each serves.
 */

export * from './fake-codex-auth.js'
export * from './fake-codex-backend.js'
export * from './fake-codex-events.js'
export * from './fake-codex-limits.js'
export * from './fake-codex-models.js'
export {REUSED_MESSAGE, type TokenRequest} from './fake-codex-oauth.js'
export * from './fake-codex-rules.js'
export * from './fake-codex-tokens.js'
export {defaultCodexAnswer, lastUserText} from './fake-codex-turns.js'

export type FakeCodexOptions = {auth?: CodexAuthOptions; backend?: CodexBackendOptions}

export type AuthJsonOptions = {
  /** `last_refresh`. Default now. */
  lastRefresh?: Date
  /** `OPENAI_API_KEY` (always present in the file, null when there is none). Default null. */
  apiKey?: string | null
}

/** RFC 3339 in UTC with microseconds, as Codex writes `last_refresh` ("2026-10-01T12:00:00.123456Z"). */
export function rfc3339Micros(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')
}

/** The `$CODEX_HOME/auth.json` document of a ChatGPT login (openai/codex codex-rs/login/src/auth/storage.rs). */
export function codexAuthJson(
  tokens: Omit<CodexTokens, 'expires_in'>,
  options: AuthJsonOptions = {},
): Record<string, unknown> {
  return {
    auth_mode: 'chatgpt',
    OPENAI_API_KEY: options.apiKey ?? null,
    tokens: {
      id_token: tokens.id_token,
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      account_id: tokens.account_id,
    },
    last_refresh: rfc3339Micros(options.lastRefresh ?? new Date()),
  }
}

/** Write `<codexHome>/auth.json` (mode 0600; the directory is made 0700 if missing); returns its path. */
export async function writeCodexAuthJson(
  codexHome: string,
  tokens: Omit<CodexTokens, 'expires_in'>,
  options: AuthJsonOptions = {},
): Promise<string> {
  await mkdir(codexHome, {recursive: true, mode: 0o700})
  const path = join(codexHome, 'auth.json')
  await writeFile(path, `${JSON.stringify(codexAuthJson(tokens, options), null, 2)}\n`, {mode: 0o600})
  // writeFile keeps the mode of a file that already exists.
  await chmod(path, 0o600)
  return path
}

export class FakeCodex {
  /** The issuer base URL, standing for https://auth.openai.com. */
  readonly authUrl: string
  /** The Responses base URL, standing for https://chatgpt.com/backend-api/codex. */
  readonly baseUrl: string
  /** The usage endpoint, standing for https://chatgpt.com/backend-api/wham/usage. */
  readonly usageUrl: string

  private constructor(
    readonly auth: CodexAuthServer,
    readonly backend: CodexBackendServer,
  ) {
    this.authUrl = auth.origin
    this.baseUrl = `${backend.origin}/backend-api/codex`
    this.usageUrl = `${backend.origin}/backend-api/wham/usage`
  }

  static async start(options: FakeCodexOptions = {}): Promise<FakeCodex> {
    const auth = await CodexAuthServer.start(options.auth)
    try {
      return new FakeCodex(auth, await CodexBackendServer.start(auth, options.backend))
    } catch (error) {
      await auth.close()
      throw error
    }
  }

  /** A fresh login's tokens (see `CodexAuthServer.issueTokens`). */
  issueTokens(account?: Partial<CodexAccount>, accessTtlS?: number): CodexTokens {
    return this.auth.issueTokens(account, accessTtlS)
  }

  /** The two headers every backend route wants, for `tokens`. */
  authHeaders(tokens: Pick<CodexTokens, 'access_token' | 'account_id'>): Record<string, string> {
    return {authorization: `Bearer ${tokens.access_token}`, 'chatgpt-account-id': tokens.account_id}
  }

  /** Issue tokens for `account` and write them as `<codexHome>/auth.json`. */
  async writeAuthJson(
    codexHome: string,
    account?: Partial<CodexAccount>,
    options: AuthJsonOptions = {},
  ): Promise<{path: string; tokens: CodexTokens}> {
    const tokens = this.issueTokens(account)
    return {path: await writeCodexAuthJson(codexHome, tokens, options), tokens}
  }

  async close(): Promise<void> {
    await Promise.all([this.backend.close(), this.auth.close()])
  }
}
