import type {Transform} from 'node:stream'

import type {Protocol} from '../../core/config.js'
import type {Endpoint} from '../registry.js'
import type {CallSpec, Served} from './call.js'
import {openaiAdapter} from './openai.js'

export type AdapterRequest = {url: string; method: 'GET' | 'POST'; headers: Record<string, string>; body?: string}

/**
 * What differs per upstream protocol: how a client request becomes an upstream request,
 * and how the upstream's stream becomes chat-format SSE events. I/O stays in call.ts;
 * wire conversions stay in ../protocols.
 */
export type ProtocolAdapter = {
  request(spec: CallSpec, served: Served, secret: string): AdapterRequest
  /** SseEvent in, chat-format SseEvent out; absent when the upstream already speaks chat SSE */
  streamTransform?(spec: CallSpec, served: Served): Transform
}

export const PATHS: Record<Endpoint, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  images: '/images/generations',
  models: '/models',
}

const ADAPTERS: Partial<Record<Protocol, ProtocolAdapter>> = {openai: openaiAdapter}

export function adapterFor(protocol: Protocol): ProtocolAdapter {
  const adapter = ADAPTERS[protocol]
  if (!adapter) throw new Error(`no adapter for protocol ${protocol}`)
  return adapter
}
