import {readFileSync, rmSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'

import type {Context} from './context.js'
import {writeStateFile} from './state-files.js'

/** `daemon.json` in the state directory: written by a daemon once it listens, removed when it exits. */
/** `origin` is where /healthz lives; `url` is the API base clients use (origin + apiPrefix). */
/** `host:port` is where it listens (`listen`, e.g. 0.0.0.0:8787); `remote` when that is beyond loopback (absent in files of older versions). */
export type DaemonInfo = {
  pid: number
  origin: string
  url: string
  host: string
  port: number
  listen?: string
  remote?: boolean
  apiPrefix: string
  startedAt: string
  version: string
  demo: boolean
  logFile?: string
}

export type Health = {status: string; version: string; pid: number; uptime_s: number; tokens: number; usable: number}

export function readDaemonFile(ctx: Context): DaemonInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(ctx.paths.pid, 'utf8')) as DaemonInfo
    return Number.isInteger(info.pid) && typeof info.origin === 'string' ? info : undefined
  } catch {
    return undefined
  }
}

export async function writeDaemonFile(ctx: Context, info: DaemonInfo): Promise<void> {
  await writeStateFile(ctx.paths.pid, JSON.stringify(info, null, 2) + '\n')
}

/** Remove the file if it still describes `pid` (a newer daemon may have replaced it). */
export function removeDaemonFile(ctx: Context, pid: number): void {
  if (readDaemonFile(ctx)?.pid === pid) rmSync(ctx.paths.pid, {force: true})
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export async function health(url: string, timeoutMs = 2000): Promise<Health | undefined> {
  try {
    const res = await fetch(`${url}/healthz`, {signal: AbortSignal.timeout(timeoutMs)})
    return res.ok ? ((await res.json()) as Health) : undefined
  } catch {
    return undefined
  }
}

/** The daemon described by `daemon.json`, when its process lives and its /healthz answers. */
export async function runningDaemon(ctx: Context): Promise<{info: DaemonInfo; health: Health} | undefined> {
  const info = readDaemonFile(ctx)
  if (!info || !isAlive(info.pid)) return undefined
  const h = await health(info.origin)
  return h && h.pid === info.pid ? {info, health: h} : undefined
}

/** SIGTERM, then wait for the process to exit (it drains open streams first). */
export async function stopDaemon(pid: number, timeoutMs: number): Promise<boolean> {
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return true
  }

  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true
    await sleep(50)
  }

  return !isAlive(pid)
}

/** Where clients reach a daemon listening on host:port: a wildcard address is reached through loopback. */
export function clientOrigin(host: string, port: number): string {
  const h =
    host === '0.0.0.0' || host === '::' || host === ''
      ? '127.0.0.1'
      : host.includes(':') && !host.startsWith('[')
        ? `[${host}]`
        : host
  return `http://${h}:${port}`
}

export function apiUrl(origin: string, apiPrefix: string): string {
  return origin + (apiPrefix === '/' ? '' : apiPrefix.replace(/\/+$/, ''))
}
