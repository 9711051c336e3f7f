import {modelFacts} from '../../core/model-facts.js'
import {responsesMode} from '../../core/upstreams.js'
import {isObject, rawBodyOf} from '../http.js'
import {ChatDecoder, parseChatCompletion} from '../protocols/chat/decoder.js'
import type {AdapterRequest, Endpoint, UpstreamAdapter} from './adapter.js'
import type {LiveUpstream} from '../registry.js'
import {own} from '../../core/own.js'

export const USER_AGENT = 'gptconv/0.1'
const ASK_USAGE = '"stream_options":{"include_usage":true}'

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
 * A converted request fitted to what is known of the upstream model: clients of other wires
 * ask for reasoning on any model (Codex, Claude Code) and for as many output tokens as their
 * own models allow (Claude Code: 32,000), which OpenAI refuses for models that cannot. Only
 * models whose facts are known are touched; what changed is returned, to be logged.
 */
function fitToModel(body: Record<string, unknown>, model: string): string[] {
  const facts = modelFacts(model)
  const notes: string[] = []
  if (facts.reasoning === false && body.reasoning_effort !== undefined) {
    notes.push(`reasoning_effort dropped: ${model} does not reason`)
    delete body.reasoning_effort
  }

  for (const field of ['max_completion_tokens', 'max_tokens']) {
    const value = body[field]
    if (facts.maxOutput !== undefined && typeof value === 'number' && value > facts.maxOutput) {
      notes.push(`${field} ${value} lowered to ${facts.maxOutput}, the most ${model} writes`)
      body[field] = facts.maxOutput
    }
  }

  return notes
}

/**
 * OpenAI-compatible upstreams (OpenAI, resellers, one-api, vLLM, Ollama…). What they take
 * natively goes on as the client sent it, with the model renamed by the upstream's
 * `modelMap`; everything else arrives as a chat request (the pivot). Streams always ask for
 * the usage chunk (`stream_options.include_usage`) so usage is known; the client's encoder
 * or relay drops it again when the client did not ask.
 */
export const openaiAdapter: UpstreamAdapter = {
  keepsResponses: true,
  serves: () => true,
  native: nativeFor,

  request(call, served, secret): AdapterRequest {
    const {upstream} = served
    const headers: Record<string, string> = {
      authorization: `Bearer ${secret}`,
      'user-agent': USER_AGENT,
      accept: call.stream ? 'text/event-stream' : 'application/json',
    }
    const url = upstream.baseUrl + (call.mode === 'pivot' ? PATHS.chat : PATHS[call.endpoint]) + (call.path ?? '')
    if (call.endpoint === 'models') return {url, method: 'GET', headers}
    if (call.method) return {url, method: call.method, headers}
    headers['content-type'] = 'application/json'
    const model = own(upstream.modelMap, call.model) ?? call.model
    const chatLike = call.mode === 'pivot' || call.endpoint === 'chat' || call.endpoint === 'completions'
    const askUsage =
      call.stream &&
      chatLike &&
      !(isObject(call.body.stream_options) && call.body.stream_options.include_usage === true)
    const setStream = call.mode === 'pivot' && call.body.stream !== call.stream
    // the client's own bytes when nothing changes (no re-serializing a long conversation); a stream
    // without stream_options gets it as one more key at the end of the object (never empty: it has a model)
    const raw = model === call.body.model && !setStream ? rawBodyOf(call.body) : undefined
    if (raw !== undefined && !askUsage) return {url, method: 'POST', headers, body: raw}
    if (raw !== undefined && call.body.stream_options === undefined) {
      const close = raw.lastIndexOf('}')
      return {url, method: 'POST', headers, body: `${raw.slice(0, close)},${ASK_USAGE}${raw.slice(close)}`}
    }

    // made in one literal: a key added to a spread copy afterwards cost a map transition per request
    const body: Record<string, unknown> =
      call.mode === 'pivot' ? {...call.body, model, stream: call.stream} : {...call.body, model}
    const notes = call.mode === 'pivot' ? fitToModel(body, model) : []
    if (askUsage)
      body.stream_options = {
        ...(isObject(call.body.stream_options) ? call.body.stream_options : {}),
        include_usage: true,
      }
    return {url, method: 'POST', headers, body: JSON.stringify(body), ...(notes.length > 0 && {notes})}
  },

  async decoder() {
    return new ChatDecoder()
  },

  parseAnswer: (text) => parseChatCompletion(text),
}
