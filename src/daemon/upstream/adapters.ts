import type {Dispatcher} from 'undici'

import type {Protocol} from '../../core/config.js'
import type {Endpoint} from '../registry.js'
import type {EventStage} from '../stream.js'
import type {CallSpec, Served} from './call.js'
import {chatgptWebAdapter} from './chatgpt-web.js'
import {openaiAdapter} from './openai.js'

export type AdapterRequest = {url: string; method: 'GET' | 'POST'; headers: Record<string, string>; body?: string}

/**
 * What differs per upstream protocol: how a client request becomes an upstream request,
 * and how the upstream's stream becomes chat-format SSE events. I/O stays in call.ts;
 * wire conversions stay in ../protocols.
 */
export type ProtocolAdapter = {
  /** usage comes from the tokenizer, not the upstream (the ledger marks it estimated) */
  estimatesUsage?: boolean
  request(spec: CallSpec, served: Served, secret: string): AdapterRequest
  /** upstream events in, chat-format events out; absent when the upstream already speaks chat SSE */
  streamStage?(spec: CallSpec, served: Served): Promise<EventStage>
  /** a non-stream answer from a 2xx body; absent: the body is the JSON answer */
  readJson?(body: Dispatcher.ResponseData['body'], spec: CallSpec, served: Served): Promise<{text: string; json: unknown}>
}

export const PATHS: Record<Endpoint, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  images: '/images/generations',
  models: '/models',
}

const ADAPTERS: Record<Protocol, ProtocolAdapter> = {openai: openaiAdapter, 'chatgpt-web': chatgptWebAdapter}

export function adapterFor(protocol: Protocol): ProtocolAdapter {
  return ADAPTERS[protocol]
}
