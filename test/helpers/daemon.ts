import {rmSync} from 'node:fs'
import {pino} from 'pino'

import {type Context, createContext} from '../../src/core/context.js'
import type {Settings, TokenKind, UpstreamConfig} from '../../src/core/config.js'
import {addToken} from '../../src/core/tokens.js'
import type {ExtraTokens} from '../../src/daemon/registry.js'
import {type RunningDaemon, startDaemon} from '../../src/daemon/server.js'
import {tempHome} from './cli.js'

export type TestToken = {
  label: string
  secret: string
  kind?: TokenKind
  upstream?: string
  concurrency?: number
  rpm?: number
  models?: string[]
  grantedUsd?: number
}

export type TestDaemon = {
  daemon: RunningDaemon
  ctx: Context
  home: string
  /** API base, e.g. http://127.0.0.1:PORT/v1 */
  url: string
  origin: string
  clientKey: string
  /** every log line the daemon wrote */
  logs: string[]
  /** fetch with the client key */
  api(path: string, init?: RequestInit & {json?: unknown}): Promise<Response>
  /** close the daemon; its state directory is removed unless `keepHome` */
  stop(options?: {keepHome?: boolean}): Promise<void>
}

type DeepPartial<T> = {[K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K]}

/**
 * A real daemon, in this process, on a free loopback port, with its own state directory
 * and the file secret store (never a keychain). Tokens are added through the same core
 * use-case `gptconv tokens add` uses.
 */
export async function startTestDaemon(
  options: {
    upstreams?: Record<string, UpstreamConfig>
    tokens?: TestToken[]
    settings?: DeepPartial<Omit<Settings, 'tokens' | 'upstreams'>>
    demo?: boolean
    home?: string
    extra?: ExtraTokens
  } = {},
): Promise<TestDaemon> {
  const home = {dir: options.home ?? tempHome('gptconv-daemon-').dir}
  const ctx = createContext({
    env: {GPTCONV_HOME: home.dir, GPTCONV_SECRET_STORE: 'file', GPTCONV_KEYCHAIN_SERVICE: 'gptconv-test-unused'},
  })
  await ctx.config.update((s) => {
    Object.assign(s.upstreams, options.upstreams)
    for (const [section, values] of Object.entries(options.settings ?? {})) {
      const target = s[section as keyof typeof s]
      if (typeof values === 'object' && values !== null && !Array.isArray(values) && typeof target === 'object')
        Object.assign(target, values)
      else Object.assign(s, {[section]: values})
    }
  })
  for (const token of options.tokens ?? []) {
    await addToken(ctx, {
      label: token.label,
      kind: token.kind ?? 'api-key',
      secret: token.secret,
      upstream: token.upstream,
      concurrency: token.concurrency,
      rpm: token.rpm,
      models: token.models,
      grantedUsd: token.grantedUsd,
    })
  }

  const logs: string[] = []
  const log = pino({level: 'debug', base: {}}, {write: (line: string) => logs.push(line)})
  const daemon = await startDaemon({ctx, log, host: '127.0.0.1', port: 0, demo: options.demo, extra: options.extra})
  const origin = daemon.url
  const url = `${origin}/v1`
  const clientKey = daemon.state.clientKey
  return {
    daemon,
    ctx,
    home: home.dir,
    url,
    origin,
    clientKey,
    logs,
    api(path, init = {}) {
      const {json, ...rest} = init
      const headers = new Headers(rest.headers)
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${clientKey}`)
      if (json !== undefined) headers.set('content-type', 'application/json')
      return fetch(path.startsWith('http') ? path : `${origin}${path}`, {
        ...rest,
        headers,
        body: json === undefined ? rest.body : JSON.stringify(json),
      })
    },
    async stop({keepHome = false} = {}) {
      await daemon.close()
      if (!keepHome) rmSync(home.dir, {recursive: true, force: true})
    },
  }
}
