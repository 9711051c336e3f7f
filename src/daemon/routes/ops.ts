import {ApiError} from '../errors.js'
import {sendJson} from '../http.js'
import type {RequestContext} from '../router.js'

/** `GET /healthz`: liveness, no key needed, nothing secret. */
export async function healthz(rc: RequestContext): Promise<void> {
  const {daemon} = rc
  const tokens = daemon.pool.snapshot()
  sendJson(rc.res, 200, {
    status: 'ok',
    version: daemon.version,
    pid: process.pid,
    uptime_s: Math.round((Date.now() - daemon.startedAt) / 1000),
    tokens: tokens.length,
    usable: tokens.filter((t) => t.state === 'ok').length,
  })
}

/** `GET /metrics`: Prometheus text format. */
export async function metrics(rc: RequestContext): Promise<void> {
  const {registry} = rc.daemon.metrics
  const text = await registry.metrics()
  rc.res.writeHead(200, {'content-type': registry.contentType})
  rc.res.end(text)
}

/** `GET /admin/pool`: per-token in-flight, cooldown, failures; the queue; connections and memory. Client key required. */
export async function adminPool(rc: RequestContext): Promise<void> {
  const {pool} = rc.daemon
  const memory = process.memoryUsage()
  const mb = (n: number) => Math.round((n / 1048576) * 10) / 10
  sendJson(rc.res, 200, {
    queue: pool.queueLength,
    tokens: pool.snapshot(),
    connections: await rc.daemon.connections(),
    process: {
      rssMb: mb(memory.rss),
      heapUsedMb: mb(memory.heapUsed),
      activeResources: process.getActiveResourcesInfo().length,
    },
  })
}

/**
 * `POST /admin/tokens/{label}/refresh`: renew a refresh-token token now. While a daemon
 * runs it is the only process rotating refresh tokens, so `gptconv tokens refresh` asks it.
 */
export async function adminRefresh(rc: RequestContext): Promise<void> {
  const {label} = rc.params
  const token = rc.daemon.registry.token(label)
  if (!token) throw new ApiError(404, 'token_not_found', `This daemon has no token "${label}".`)
  if (token.kind !== 'refresh-token')
    throw new ApiError(
      400,
      'not_a_refresh_token',
      `"${label}" is a ${token.kind}; only refresh-token tokens are renewed.`,
    )
  const result = await rc.daemon.refresher.renew(label)
  sendJson(rc.res, 200, {label, ...result})
}
