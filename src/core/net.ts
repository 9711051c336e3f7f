import {isIPv4, isIPv6} from 'node:net'

/**
 * Is this host (a name or an IP literal, IPv6 with or without brackets) this machine's
 * loopback only? `localhost` and `*.localhost` (RFC 6761), 127.0.0.0/8, ::1 and
 * IPv4-mapped 127.x are; wildcards (0.0.0.0, ::), other addresses and other names are not.
 */
export function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
  if (h === 'localhost' || h.endsWith('.localhost')) return true
  if (isIPv4(h)) return h.startsWith('127.')
  if (isIPv6(h)) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h)
  return false
}

/** host:port as a listener shows it: IPv6 in brackets. */
export function listenAddress(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`
}
