import type {Logger} from './logger.js'
import type {Registry} from './registry.js'

/**
 * Say loudly, once per token and destination, that a token is blocked because its upstream
 * now points to another origin than it was stored for: the label and both origins, never the secret.
 */
export function blockReporter(registry: Registry, log: Logger): () => void {
  const reported = new Set<string>()
  return () => {
    for (const block of registry.blocks()) {
      const key = `${block.label}\u0000${block.addedAt}\u0000${block.to}`
      if (reported.has(key)) continue
      reported.add(key)
      log.error(
        {token: block.label, upstream: block.upstream, from: block.from, to: block.to},
        `token "${block.label}" is ${block.reason}`,
      )
    }
  }
}
