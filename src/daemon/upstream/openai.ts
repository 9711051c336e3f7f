import {responsesMode} from '../../core/upstreams.js'
import {isObject, rawBodyOf} from '../http.js'
import {ChatDecoder, parseChatCompletion} from '../protocols/chat/decoder.js'
import type {AdapterRequest, Endpoint, UpstreamAdapter} from './adapter.js'
import type {LiveUpstream} from '../registry.js'

export const USER_AGENT = 'gptconv/0.1'

const PATHS: Record<Endpoint, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  responses: '/responses',
  messages: '/chat/completions',
  embeddings: '/embeddings',
  images: '/images/generations',
  models: '/models',
}

/** The endpoints an OpenAI-compatible upstream takes as the client sent them. */
function nativeFor(endpoint: Endpoint, upstream: LiveUpstream): boolean {
  switch (endpoint) {
    case 'completions': {
      return upstream.legacy === 'passthrough'
    }

    case 'responses': {
      return responsesMode(upstream) === 'native'
    }

    case 'messages': {
      return false
    }

    default: {
      return true
    }
  }
}

/**
 * OpenAI-compatible upstreams (OpenAI, resellers, one-api, vLLM, Ollama…). What they take
 * natively goes on as the client sent it, with the model renamed by the upstream's
 * `modelMap`; everything else arrives as a chat request (the pivot). Streams always ask for
 * the usage chunk (`stream_options.include_usage`) so usage is known; the client's encoder
 * or relay drops it again when the client did not ask.
 */
export const openaiAdapter: UpstreamAdapter = {
  serves: () => true,
  native: nativeFor,

  request(call, served, secret): AdapterRequest {
    const {upstream} = served
    const headers: Record<string, string> = {authorization: `Bearer ${secret}`, 'user-agent': USER_AGENT, accept: call.stream ? 'text/event-stream' : 'application/json'}
    const url = upstream.baseUrl + (call.mode === 'pivot' ? PATHS.chat : PATHS[call.endpoint]) + (call.path ?? '')
    if (call.endpoint === 'models') return {url, method: 'GET', headers}
    if (call.method) return {url, method: call.method, headers}
    headers['content-type'] = 'application/json'
    const model = upstream.modelMap?.[call.model] ?? call.model
    const chatLike = call.mode === 'pivot' || call.endpoint === 'chat' || call.endpoint === 'completions'
    const askUsage = call.stream && chatLike && !(isObject(call.body.stream_options) && call.body.stream_options.include_usage === true)
    const setStream = call.mode === 'pivot' && call.body.stream !== call.stream
    // the client's own bytes when nothing changes (no re-serializing a long conversation)
    const raw = model === call.body.model && !askUsage && !setStream ? rawBodyOf(call.body) : undefined
    if (raw !== undefined) return {url, method: 'POST', headers, body: raw}
    const body: Record<string, unknown> = {...call.body, model}
    if (call.mode === 'pivot') body.stream = call.stream
    if (askUsage) body.stream_options = {...(isObject(call.body.stream_options) ? call.body.stream_options : {}), include_usage: true}
    return {url, method: 'POST', headers, body: JSON.stringify(body)}
  },

  async decoder() {
    return new ChatDecoder()
  },

  async readAnswer(body) {
    return parseChatCompletion(await body.text())
  },
}
