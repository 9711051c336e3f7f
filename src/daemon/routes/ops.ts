import {sendJson} from '../http.js'
import type {RequestContext} from '../router.js'

/** `GET /healthz`: liveness, no key needed, nothing secret. */
export async function healthz(rc: RequestContext): Promise<void> {
  const {daemon} = rc
  const tokens = daemon.pool.snapshot()
  sendJson(rc.res, 200, {status: 'ok', version: daemon.version, pid: process.pid, uptime_s: Math.round((Date.now() - daemon.startedAt) / 1000), tokens: tokens.length, usable: tokens.filter((t) => t.state === 'ok').length})
}

/** `GET /metrics`: Prometheus text format. */
export async function metrics(rc: RequestContext): Promise<void> {
  const {registry} = rc.daemon.metrics
  const text = await registry.metrics()
  rc.res.writeHead(200, {'content-type': registry.contentType})
  rc.res.end(text)
}

/** `GET /admin/pool`: per-token in-flight, cooldown, failures; the queue. Client key required. */
export async function adminPool(rc: RequestContext): Promise<void> {
  const {pool} = rc.daemon
  sendJson(rc.res, 200, {queue: pool.queueLength, tokens: pool.snapshot()})
}
