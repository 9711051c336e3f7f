import type {Protocol} from '../../core/config.js'
import type {LiveUpstream} from '../registry.js'
import type {UpstreamAdapter} from './adapter.js'
import {chatgptWebAdapter} from './chatgpt-web.js'
import {codexAdapter} from './codex.js'
import {openaiAdapter} from './openai.js'

const ADAPTERS: Record<Protocol, UpstreamAdapter> = {
  openai: openaiAdapter,
  'chatgpt-web': chatgptWebAdapter,
  codex: codexAdapter,
}

/** The adapter that talks to this upstream. */
export function adapterOf(upstream: Pick<LiveUpstream, 'protocol'>): UpstreamAdapter {
  return ADAPTERS[upstream.protocol]
}
