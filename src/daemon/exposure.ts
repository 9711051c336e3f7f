import {UsageError} from '../core/errors.js'
import {isLoopback} from '../core/net.js'

/**
 * The daemon holds upstream keys behind one local client key: by default it listens on
 * loopback only. Any other address (0.0.0.0, a LAN address, a host name) needs an explicit
 * yes — `serve --allow-remote` or `server.allowRemote` — and is announced loudly.
 */
export function refuseRemote(host: string, allowRemote: boolean): void {
  if (allowRemote || isLoopback(host)) return
  throw new UsageError(
    `Refusing to listen on ${host}: it is not a loopback address, so other machines could reach the daemon, and with it the upstream keys it holds (only the local client key stands in front of them).`,
    {
      code: 'GPTCONV_REMOTE_REFUSED',
      hint: 'Listen on 127.0.0.1 (the default: unset GPTCONV_HOST, or gptconv config unset server.host). If other machines must reach it, say so: gptconv serve --allow-remote (or gptconv config set server.allowRemote true), and put the names they use in server.allowedHosts.',
    },
  )
}

/** What the banner and the log say when the daemon listens beyond loopback. */
export function remoteWarning(listen: string): string {
  return `listening on ${listen}, beyond loopback: other machines can reach this daemon and the upstream keys behind its client key. Requests are answered only for Host names that are loopback, the address they arrived at, or in server.allowedHosts.`
}
