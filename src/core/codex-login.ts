import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'

import {
  CODEX_CLIENT_ID,
  CODEX_ORIGINATOR,
  CODEX_SCOPE,
  LoginFailedError,
  type OAuthTokens,
  exchangeCode,
} from './codex-auth.js'
import {errorMessage} from './errors.js'

/**
 * Signing in to a ChatGPT plan in a browser, as Codex CLI does (openai/codex
 * codex-rs/login/src/server.rs): the authorization-code flow with PKCE, its redirect caught
 * by a one-shot server on `localhost:1455` (1457 when 1455 is taken), the code exchanged at
 * `{issuer}/oauth/token`. Nothing waits forever: the login ends after `timeoutMs` or when
 * `signal` aborts, and the server is closed either way.
 */

export const CALLBACK_PORT = 1455
/** Codex CLI's second registered port, tried when 1455 is in use. */
export const FALLBACK_PORT = 1457
export const LOGIN_TIMEOUT_MS = 5 * 60_000

export type LoginTokens = OAuthTokens & {refreshToken: string}

export type LoginEvent =
  | {type: 'authorize'; url: string; redirectUri: string}
  | {type: 'device'; verificationUrl: string; userCode: string}
  | {type: 'exchanging'}

export type BrowserLoginOptions = {
  issuer: string
  /** the callback port; when not given, 1455 then 1457 */
  port?: number
  timeoutMs?: number
  signal?: AbortSignal
  onEvent?: (event: LoginEvent) => void
}

/** PKCE (RFC 7636, S256) as Codex CLI makes it: a verifier of 64 random bytes, base64url without padding. */
export function newPkce(): {verifier: string; challenge: string} {
  const verifier = randomBytes(64).toString('base64url')
  return {verifier, challenge: createHash('sha256').update(verifier).digest('base64url')}
}

/** The authorize URL with Codex CLI's parameters, in its order; spaces as %20. */
export function authorizeUrl(issuer: string, p: {redirectUri: string; challenge: string; state: string}): string {
  const query: Array<[string, string]> = [
    ['response_type', 'code'],
    ['client_id', CODEX_CLIENT_ID],
    ['redirect_uri', p.redirectUri],
    ['scope', CODEX_SCOPE],
    ['code_challenge', p.challenge],
    ['code_challenge_method', 'S256'],
    ['id_token_add_organizations', 'true'],
    ['codex_cli_simplified_flow', 'true'],
    ['state', p.state],
    ['originator', CODEX_ORIGINATOR],
  ]
  return `${issuer}/oauth/authorize?${query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`
}

/** Wait for the browser's redirect, exchange its code, and return the tokens. */
export async function browserLogin(options: BrowserLoginOptions): Promise<LoginTokens> {
  const pkce = newPkce()
  const state = randomBytes(32).toString('base64url')
  const ended = endSignal(options)
  let settle!: {resolve: (t: LoginTokens) => void; reject: (e: unknown) => void}
  const result = new Promise<LoginTokens>((resolve, reject) => (settle = {resolve, reject}))
  let redirectUri = ''
  const handler = callbackHandler({
    state,
    onCode: (code) =>
      exchangeCode(options.issuer, {code, redirectUri, verifier: pkce.verifier}, {signal: ended.signal}),
    onEvent: options.onEvent,
    settle,
  })
  const server = await listen(handler, options.port)
  try {
    redirectUri = `http://localhost:${(server.address() as {port: number}).port}/auth/callback`
    options.onEvent?.({
      type: 'authorize',
      url: authorizeUrl(options.issuer, {redirectUri, challenge: pkce.challenge, state}),
      redirectUri,
    })
    return await Promise.race([result, ended.promise])
  } finally {
    ended.dispose()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

type Settle = {resolve: (t: LoginTokens) => void; reject: (e: unknown) => void}

/** Answers `/auth/callback` once: a foreign `state` is turned away (and the wait goes on), an error or a code ends the login. */
function callbackHandler(h: {
  state: string
  onCode: (code: string) => Promise<LoginTokens>
  onEvent?: (e: LoginEvent) => void
  settle: Settle
}) {
  let handled = false
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (req.method !== 'GET' || url.pathname !== '/auth/callback') return page(res, 404, 'Not found.')
    if (!sameState(url.searchParams.get('state') ?? '', h.state))
      return page(
        res,
        400,
        'This sign-in answer is not for the sign-in gptconv is waiting for. Start again from the terminal.',
      )
    if (handled) return page(res, 409, 'This sign-in was already handled. You can close this tab.')
    handled = true
    const error = url.searchParams.get('error')
    const code = url.searchParams.get('code')
    if (error !== null || !code) {
      page(res, 400, 'Sign-in was not completed. You can close this tab and return to the terminal.')
      h.settle.reject(denied(error ?? 'no authorization code', url.searchParams.get('error_description')))
      return
    }

    h.onEvent?.({type: 'exchanging'})
    h.onCode(code).then(
      (tokens) => {
        page(res, 200, 'Signed in to gptconv. You can close this tab and return to the terminal.')
        h.settle.resolve(tokens)
      },
      (error_: unknown) => {
        page(res, 502, 'Sign-in failed while getting the tokens. See the terminal.')
        h.settle.reject(error_)
      },
    )
  }
}

function sameState(got: string, expected: string): boolean {
  const a = Buffer.from(got)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The error a refusing authorize page redirects with; only word characters of it are shown (the query is anyone's to write). */
function denied(error: string, description: string | null): LoginFailedError {
  const clean = (s: string, n: number) => s.replaceAll(/[^\w .,'()-]/g, '').slice(0, n)
  const why = `${clean(error, 64)}${description ? `: ${clean(description, 200)}` : ''}`
  return new LoginFailedError(`The sign-in was refused (${why}).`, {
    code: 'GPTCONV_LOGIN_DENIED',
    hint: 'Run `gptconv login` again and allow access in the browser.',
  })
}

function page(res: ServerResponse, status: number, text: string): void {
  const body = `<!doctype html><html><head><meta charset="utf-8"><title>gptconv</title></head><body><p>${text}</p></body></html>`
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  })
  res.end(body)
}

/** Listen on 127.0.0.1: the given port, else 1455 then 1457. */
async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  port: number | undefined,
): Promise<Server> {
  const ports = port === undefined ? [CALLBACK_PORT, FALLBACK_PORT] : [port]
  for (const [i, p] of ports.entries()) {
    const server = createServer(handler)
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(p, '127.0.0.1', () => resolve())
      })
      return server
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || i === ports.length - 1) {
        throw new LoginFailedError(
          `Cannot wait for the browser on localhost port ${ports.join(' or ')}: ${errorMessage(error)}.`,
          {
            code: 'GPTCONV_LOGIN_PORT',
            hint: 'Another sign-in (gptconv or Codex CLI) may be waiting there: finish or stop it, or sign in with `gptconv login --device`.',
          },
        )
      }
    }
  }

  throw new Error('unreachable')
}

/** One promise that rejects when the login times out or is cancelled, and a signal for requests in flight. */
export function endSignal(options: {timeoutMs?: number; signal?: AbortSignal}, what = 'No sign-in arrived') {
  const timeoutMs = options.timeoutMs ?? LOGIN_TIMEOUT_MS
  const controller = new AbortController()
  let reject!: (e: unknown) => void
  const promise = new Promise<never>((_, r) => (reject = r))
  promise.catch(() => {})
  const minutes =
    timeoutMs >= 60_000 ? `${Math.round(timeoutMs / 60_000)} minutes` : `${Math.round(timeoutMs / 1000)} s`
  const end = (error: LoginFailedError) => {
    reject(error)
    controller.abort(error)
  }

  const timer = setTimeout(
    () =>
      end(
        new LoginFailedError(`${what} within ${minutes}.`, {
          code: 'GPTCONV_LOGIN_TIMEOUT',
          hint: 'Run `gptconv login` again and finish signing in sooner; on a machine without a browser use `gptconv login --device`.',
        }),
      ),
    timeoutMs,
  )
  const onAbort = () => end(new LoginFailedError('The sign-in was cancelled.', {code: 'GPTCONV_LOGIN_CANCELLED'}))
  if (options.signal?.aborted) onAbort()
  else options.signal?.addEventListener('abort', onAbort, {once: true})
  return {
    promise,
    signal: controller.signal,
    dispose() {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
    },
  }
}
