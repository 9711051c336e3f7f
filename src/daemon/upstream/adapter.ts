import type {Dispatcher} from 'undici'

import type {PlanLimits} from '../../core/runtime-state.js'
import type {Relay, StreamDecoder, Wire} from '../protocols/codec.js'
import type {ChatCompletion, ChatRequest} from '../protocols/chat/types.js'
import type {LiveToken, LiveUpstream} from '../registry.js'

/** What a client asks of the pool: one of the wires, or an endpoint that is only ever passed through. */
export type Endpoint = Wire | 'embeddings' | 'images' | 'models'

export type AdapterRequest = {
  url: string
  method: 'GET' | 'POST' | 'DELETE'
  headers: Record<string, string>
  body?: string
  /** what the adapter changed or dropped to fit the upstream (logged, never silent) */
  notes?: string[]
}

/** One upstream call as the adapter sees it: the model after aliases, and the body in the form this attempt sends. */
export type UpstreamCall = {
  endpoint: Endpoint
  /** the model as the client named it, after aliases */
  model: string
  stream: boolean
  /** native: the client's body, sent as it came (model renamed); pivot: the chat request */
  mode: 'native' | 'pivot'
  body: Record<string, unknown>
  /** a read or a deletion of something the upstream keeps (a stored response): no body */
  method?: 'GET' | 'DELETE'
  /** what follows the endpoint's path (`/resp_…/input_items?limit=5`) */
  path?: string
  /** a ChatGPT plan's limits, seen in this call's answer (the daemon records them for the token) */
  onLimits?: (limits: PlanLimits) => void
}

export type Served = {
  token: LiveToken
  upstream: LiveUpstream
  attempts: number
  /** usage is the tokenizer's estimate */ estimatesUsage: boolean
}

/** A verdict on an upstream's error answer, where the adapter knows better than the status code. */
export type ErrorVerdict =
  /** a transient refusal (challenge, cap): the token rests this long, the request moves on */
  | {
      kind: 'cooldown'
      ms: number
      reason: string
      message?: string
      /** only this model is capped on the token */ model?: string
    }
  /** the credential is dead for good */
  | {kind: 'disable'; reason: string}
  /** about the request, not the token: shown to the client */
  | {kind: 'client'; status: number; message: string; code: string}

/**
 * What differs per upstream kind: which endpoints it serves and which of them it takes as
 * the client sent them (native, byte for byte); how a pivot (chat) request becomes its
 * request; how its answers become pivot answers; what it refuses. I/O stays in call.ts,
 * wire conversions in ../protocols.
 */
export type UpstreamAdapter = {
  /** serves this endpoint at all (natively or through the pivot) */
  serves(endpoint: Endpoint, upstream: LiveUpstream): boolean
  /** takes this endpoint's client body as it is */
  native(endpoint: Endpoint, upstream: LiveUpstream): boolean
  /** why a pivot request cannot go to this upstream, as [param, message, code] */
  refuses?(chat: ChatRequest): [string, string, string] | undefined
  /** usage comes from the tokenizer, not the upstream (the ledger marks it estimated) */
  estimatesUsage?: boolean
  request(call: UpstreamCall, served: Served, secret: string): AdapterRequest
  /** the upstream's stream of a pivot request → chat chunks */
  decoder(call: UpstreamCall, served: Served): Promise<StreamDecoder>
  /** the upstream's complete answer to a pivot request → a chat completion: one JSON body, parsed whole… */
  parseAnswer?(text: string, call: UpstreamCall, served: Served): ChatCompletion
  /** …or read as it arrives (upstreams that only stream) */
  readAnswer?(body: AsyncIterable<Buffer>, call: UpstreamCall, served: Served): Promise<ChatCompletion>
  /** a better verdict than the status code gives, when the adapter has one */
  classify?(
    status: number,
    headers: Dispatcher.ResponseData['headers'],
    text: string,
    call: UpstreamCall,
  ): ErrorVerdict | undefined
  /** the upstream keeps the responses it makes (ids can be looked up there later); else the daemon stores them */
  keepsResponses?: boolean
  /** a complete native answer from an upstream that only streams */
  readNative?(body: AsyncIterable<Buffer>, call: UpstreamCall, served: Served): Promise<{text: string; json: unknown}>
  /** what a native stream goes through before the client's relay (events only this upstream sends) */
  wrapRelay?(relay: Relay, call: UpstreamCall, served: Served): Relay
  /** usage limits the upstream reports in its response headers */
  limits?(headers: Dispatcher.ResponseData['headers']): PlanLimits | undefined
  /** the model ids of its model list, when it is not OpenAI's `{data: [{id}]}` */
  models?(json: unknown): string[]
  /** the models it serves, known without asking it (no model list to fetch) */
  fixedModels?: readonly string[]
  /** the models to list when asking it for its list failed */
  fallbackModels?: readonly string[]
}
