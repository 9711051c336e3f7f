import {randomBytes} from 'node:crypto'
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'

import {clientKey} from '../core/client-key.js'
import type {Settings} from '../core/config.js'
import type {Context} from '../core/context.js'
import {LedgerWriter} from '../core/ledger.js'
import {loadModelFacts} from '../core/model-facts.js'
import {GptconvError} from '../core/errors.js'
import {redact} from '../core/mask.js'
import {isLoopback, listenAddress} from '../core/net.js'
import {ensureStateDir, refuseSymlinks} from '../core/paths.js'
import {readRuntimeState} from '../core/runtime-state.js'
import {requireUsableStores} from '../core/tokens.js'
import {RequestAbort} from './cancellation.js'
import {type DemoUpstream, startDemoUpstream} from './demo/index.js'
import {ApiError, toOpenAIError} from './errors.js'
import {answerClientError, sendJson} from './http.js'
import {type Logger, logAccess} from './logger.js'
import {Metrics, configuredModels} from './metrics.js'
import {blockReporter} from './blocks.js'
import {guardedServer} from './connections.js'
import {refuseRemote, remoteWarning} from './exposure.js'
import {CredentialPool} from './pool.js'
import {type ExtraTokens, Registry, watchConfig} from './registry.js'
import {TokenRefresher} from './refresher.js'
import {type Envelope, type RequestContext, RequestState, Router} from './router.js'
import {IdleCollector} from './idle-collector.js'
import {routes} from './routes/index.js'
import {forgetModels} from './routes/models.js'
import {ResponseStore} from './responses-store.js'
import {checkClientKey, checkHost, checkOrigin, corsHeaders, preflightHeaders} from './security.js'
import {SessionStore} from './sessions.js'
import {anthropicErrorBody} from './protocols/anthropic/errors.js'
import {type DaemonState, RuntimeStateWriter, ledgerRecorder} from './state.js'
import {clientGone} from './stream.js'
import {UpstreamClient} from './upstream/client.js'
import {UpstreamCaller} from './upstream/call.js'

export const VERSION = '0.1.0'

export type DaemonOptions = {
  ctx: Context
  log: Logger
  host?: string
  port?: number
  /** add the offline demo upstream and its token */
  demo?: boolean
  /** upstreams and tokens beside the configured ones (tests) */
  extra?: ExtraTokens
  /** listen beyond loopback (`serve --allow-remote`; server.allowRemote does the same) */
  allowRemote?: boolean
}

export type RunningDaemon = {
  readonly url: string
  readonly host: string
  readonly port: number
  /** listening beyond loopback */
  readonly remote: boolean
  /** the connection cap in force (server.maxConnections, lowered to fit the open-file limit) */
  readonly maxConnections: number
  readonly state: DaemonState
  /** stop accepting, let open requests finish within pool.drainTimeoutMs, then end the rest with an error */
  close(): Promise<void>
}

function mergeExtra(a: ExtraTokens | undefined, b: ExtraTokens | undefined): ExtraTokens | undefined {
  if (!a || !b) return a ?? b
  return {upstreams: {...a.upstreams, ...b.upstreams}, tokens: [...a.tokens, ...b.tokens]}
}

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const {ctx, log} = options
  // a state directory open to others is closed (with a warning); one of another user, or a state file that is a link, stops the start
  ensureStateDir(ctx.paths.dir, (message) => log.warn(message))
  refuseSymlinks(ctx.paths)
  // a corrupted config or a locked keychain stops the start here, before anything is written
  const initial = ctx.config.read()
  const host = options.host ?? initial.server.host
  refuseRemote(host, Boolean(options.allowRemote) || initial.server.allowRemote)
  await requireUsableStores(ctx, initial)
  await loadModelFacts()
  const key = (await clientKey(ctx, {create: true}))!
  const demo: DemoUpstream | undefined = options.demo ? await startDemoUpstream() : undefined
  const extra = mergeExtra(options.extra, demo?.extra)
  const persisted = readRuntimeState(ctx.paths.runtime).tokens
  const registry = await Registry.load(ctx, persisted, extra)
  const settings = registry.settings
  // eslint-disable-next-line prefer-const -- the pool's callback refers to the writer, which needs the pool
  let writer: RuntimeStateWriter | undefined
  const pool = new CredentialPool({
    ...settings.pool,
    onChange: () => writer?.schedule(),
    onOutcome: (token, outcome) => metricSet.countAttempt(token.upstream, outcome.type),
  })
  writer = new RuntimeStateWriter(ctx.paths.runtime, pool, log, 250, () => registry.firstSeen())
  pool.update(registry.tokens, persisted)
  const reportBlocks = blockReporter(registry, log)
  reportBlocks()
  if (registry.firstSeen().size > 0) writer.schedule()
  const client = new UpstreamClient(settings.pool.connectTimeoutMs)
  const ledger = new LedgerWriter(ctx.paths.ledger)
  const metricSet = new Metrics(pool)
  metricSet.configure(configuredModels(registry))
  const refresher = new TokenRefresher(ctx, registry, pool, log)
  const sessions = new SessionStore(
    ctx.paths.sessions,
    settings.sessions.ttlMinutes * 60_000,
    log,
    settings.sessions.maxMessages,
  )
  const responses = new ResponseStore(ctx.paths.responses, responseLimits(settings), log)
  const state: DaemonState = {
    ctx,
    registry,
    pool,
    refresher,
    sessions,
    responses,
    caller: new UpstreamCaller(registry, pool, client, log, async (label) => (await refresher.renew(label)).ok),
    ledger,
    metrics: metricSet,
    log,
    clientKey: key,
    startedAt: Date.now(),
    connections: () =>
      new Promise((resolve) =>
        server.getConnections((_error, clients) =>
          resolve({
            requests: active.size,
            clients: clients ?? 0,
            maxClients: maxConnections,
            closedForRoom: guard.closed,
            upstream: client.stats(),
          }),
        ),
      ),
    version: VERSION,
    recordUsage: ledgerRecorder(ledger, metricSet),
  }
  // refresh-token tokens get their access tokens before the first request (bounded: a slow auth server must not block the start)
  const startup = new AbortController()
  await Promise.race([refresher.sync(), sleep(5000, undefined, {signal: startup.signal}).catch(() => {})])
  startup.abort()
  const router = new Router(routes(settings.server.apiPrefix))
  // request ids: a random prefix per daemon and a counter (no crypto call per request)
  const idPrefix = randomBytes(8).toString('hex')
  let requests = 0
  const active = new Set<RequestAbort>()
  let closing = false

  const {server, guard, maxConnections} = guardedServer(settings.server, log, (req, res) => void handle(req, res))
  server.on('clientError', answerClientError)
  const remote = !isLoopback(host)
  const idle = new IdleCollector(() => active.size === 0)

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now()
    const abort = new RequestAbort()
    active.add(abort)
    guard.busy(req.socket)
    res.on('close', () => {
      guard.idle(req.socket)
      active.delete(abort)
      if (active.size === 0) idle.schedule()
      if (!res.writableFinished) abort.abort(new ApiError(499, 'client_closed', 'The client closed the connection.'))
      if (closing) server.closeIdleConnections()
    })
    const target = req.url ?? '/'
    const q = target.indexOf('?')
    const path = q === -1 ? target : target.slice(0, q)
    const rc = new RequestState(
      req,
      res,
      path,
      q === -1 ? '' : target.slice(q + 1),
      abort,
      `req_${idPrefix}${(requests++).toString(16).padStart(8, '0')}`,
      state,
      log,
    )
    let route = 'unmatched'
    let envelope: Envelope = 'openai'
    try {
      if (closing)
        throw new ApiError(503, 'shutting_down', 'gptconv is shutting down.', {
          type: 'server_error',
          headers: {connection: 'close'},
        })
      const {server: conf} = registry.settings
      checkHost(req, conf.allowedHosts, remote)
      const origin = checkOrigin(req, conf.allowedOrigins)
      if (origin) for (const [name, value] of Object.entries(corsHeaders(origin))) res.setHeader(name, value)
      if (req.method === 'OPTIONS') {
        if (!origin)
          throw new ApiError(
            400,
            'not_a_preflight',
            'OPTIONS is only answered for CORS preflight requests from a configured origin.',
          )
        res.writeHead(204, preflightHeaders(req, origin))
        res.end()
        route = 'preflight'
        return
      }

      let match: ReturnType<Router['match']>
      try {
        match = router.match(req.method ?? 'GET', path)
      } catch (error) {
        // what exists is nobody's business without the key: a wrong key is a 401 on any path but the open ones
        checkClientKey(req, key)
        throw error
      }

      route = match.route.name
      envelope = match.route.envelope ?? 'openai'
      rc.params = match.params
      if (match.route.auth) checkClientKey(req, key)
      await match.route.handler(rc)
    } catch (error) {
      respondError(rc, error, envelope)
    } finally {
      const status = res.headersSent ? res.statusCode : 499
      metricSet.request(route, status, (performance.now() - started) / 1000)
      if (route !== 'healthz' && route !== 'metrics') {
        const {token, model, attempts} = rc.meta
        logAccess(log, {
          id: rc.requestId,
          method: req.method ?? 'GET',
          path,
          status,
          ms: Math.round(performance.now() - started),
          token,
          model,
          attempts,
        })
      }
    }
  }

  /** The one error boundary: whatever a route threw, in the envelope of its wire. */
  function respondError(rc: RequestContext, error: unknown, envelope: Envelope): void {
    if (clientGone(rc.signal)) return
    if (!(error instanceof GptconvError))
      log.error(
        {id: rc.requestId, err: redact((error as Error)?.stack ?? String(error), registry.secrets())},
        'unexpected error',
      )
    const out = toOpenAIError(error)
    if (rc.res.headersSent) {
      // a stream ends with its wire's in-band error inside the exchange; anything else cannot say more
      if (!rc.res.writableEnded) rc.res.end()
      return
    }

    const body =
      envelope === 'session'
        ? {code: out.status, message: out.body.error.message, data: null}
        : envelope === 'anthropic'
          ? {...anthropicErrorBody(out.status, out.body.error.message), request_id: rc.requestId}
          : out.body
    sendJson(rc.res, out.status, body, {'x-request-id': rc.requestId, ...out.headers})
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? settings.server.port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })

  const watcher = watchConfig(ctx.paths.config, () => {
    registry
      .reload(ctx, extra)
      .then(() => {
        pool.configure(registry.settings.pool)
        sessions.ttlMinutes = registry.settings.sessions.ttlMinutes
        sessions.maxMessages = registry.settings.sessions.maxMessages
        responses.configure(responseLimits(registry.settings))
        pool.update(registry.tokens)
        metricSet.configure(configuredModels(registry))
        reportBlocks()
        writer.schedule()
        void refresher.sync()
        forgetModels(state)
        log.info({tokens: registry.tokens.length, upstreams: registry.upstreams.length}, 'config reloaded')
      })
      .catch((error: unknown) =>
        log.error({err: (error as Error).message}, 'config change ignored: the new config cannot be used'),
      )
  })

  const address = server.address() as AddressInfo
  if (remote)
    log.warn(
      {listen: listenAddress(address.address, address.port)},
      remoteWarning(listenAddress(address.address, address.port)),
    )
  let closed: Promise<void> | undefined
  return {
    url: `http://${listenAddress(address.address, address.port)}`,
    host: address.address,
    port: address.port,
    remote,
    maxConnections,
    state,
    close() {
      closed ??= (async () => {
        closing = true
        idle.stop()
        watcher.close()
        refresher.close()
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        const deadline = Date.now() + registry.settings.pool.drainTimeoutMs
        while (active.size > 0 && Date.now() < deadline) await sleep(25)
        // what is still open is told so: an in-band error event ends each stream (a second at most)
        for (const request of active) request.abort(new ApiError(503, 'shutting_down', 'gptconv is shutting down.'))
        const cut = Date.now() + 1000
        while (active.size > 0 && Date.now() < cut) await sleep(10)
        server.closeAllConnections()
        await stopped
        pool.close(new ApiError(503, 'shutting_down', 'gptconv is shutting down.', {type: 'server_error'}))
        await writer.flush()
        await sessions.close()
        responses.close()
        await ledger.close()
        await client.close()
        await demo?.close()
      })()
      return closed
    },
  }
}

function responseLimits(settings: Settings): {ttlMs: number; maxBytes: number} {
  return {ttlMs: settings.responses.ttlDays * 86_400_000, maxBytes: settings.responses.maxMegabytes * 1024 * 1024}
}
