import {readFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {join} from 'node:path'

import type {Context} from './context.js'
import {CodexAuthFileError, type SavedLogin, codexTarget, saveCodexLogin} from './codex-tokens.js'

/**
 * Taking over Codex CLI's ChatGPT login from `$CODEX_HOME/auth.json` (default
 * `~/.codex/auth.json`; openai/codex codex-rs/login/src/auth/storage.rs):
 * `{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{"id_token","access_token",
 * "refresh_token","account_id"},"last_refresh":"…"}`. Refresh tokens rotate and work once: from
 * gptconv's first renewal on, the file's copy is spent, which is what the notice says.
 */

export function defaultCodexAuthPath(env: Readonly<Record<string, string | undefined>>): string {
  return join(env.CODEX_HOME || join(env.HOME || homedir(), '.codex'), 'auth.json')
}

export type ImportInput = {file?: string; label: string; upstream?: string; force?: boolean}

export type ImportedLogin = SavedLogin & {importedFrom: string}

export async function importCodexAuth(ctx: Context, input: ImportInput): Promise<ImportedLogin> {
  const path = input.file || defaultCodexAuthPath(ctx.env)
  const tokens = parseAuthJson(await readAuthFile(path), path)
  const saved = await saveCodexLogin(ctx, {
    target: codexTarget(ctx, input.upstream),
    tokens,
    label: input.label,
    force: input.force,
    fallback: {chatgptAccountId: tokens.accountId},
  })
  return {...saved, importedFrom: path}
}

async function readAuthFile(path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new CodexAuthFileError(
      `Cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}.`,
      'Sign in with Codex CLI first (`codex login`), name the file (--from-codex-auth=FILE), or sign in with gptconv itself: `gptconv login`.',
    )
  }

  try {
    return JSON.parse(text) as unknown
  } catch {
    // never quote the file: it holds secrets
    throw new CodexAuthFileError(`${path} is not valid JSON.`, 'Give the auth.json Codex CLI wrote, unchanged.')
  }
}

type FileTokens = {refreshToken: string; accessToken?: string; idToken?: string; accountId?: string}

/** The tokens of a ChatGPT login; an API-key login is refused (it has nothing to renew). */
export function parseAuthJson(data: unknown, path: string): FileTokens {
  const doc = (typeof data === 'object' && data !== null ? data : {}) as {
    auth_mode?: unknown
    OPENAI_API_KEY?: unknown
    tokens?: unknown
  }
  // Codex reads a file without auth_mode as an API-key login when it holds a key
  const mode =
    typeof doc.auth_mode === 'string'
      ? doc.auth_mode
      : typeof doc.OPENAI_API_KEY === 'string' && doc.OPENAI_API_KEY
        ? 'apikey'
        : 'chatgpt'
  if (mode.toLowerCase() === 'apikey') {
    throw new CodexAuthFileError(
      `${path} holds an API-key login (auth_mode "apikey"), not a ChatGPT sign-in: there is no refresh token to import.`,
      'Add the API key itself as an api-key token (printf %s "$KEY" | gptconv tokens add LABEL --kind api-key), or sign in to your ChatGPT plan: gptconv login',
    )
  }

  const tokens = (typeof doc.tokens === 'object' && doc.tokens !== null ? doc.tokens : {}) as Record<string, unknown>
  const word = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined)
  const refreshToken = word(tokens.refresh_token)
  if (!refreshToken)
    throw new CodexAuthFileError(
      `${path} has no tokens.refresh_token (auth_mode "${mode}"), so gptconv could not renew access by itself.`,
      'Sign in with `gptconv login` instead.',
    )
  const idToken = word(tokens.id_token)
  const accountId = word(tokens.account_id)
  const accessToken = word(tokens.access_token)
  return {refreshToken, ...(accessToken && {accessToken}), ...(idToken && {idToken}), ...(accountId && {accountId})}
}
