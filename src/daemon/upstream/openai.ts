import {isObject, rawBodyOf} from '../http.js'
import type {AdapterRequest, ProtocolAdapter} from './adapters.js'
import {PATHS} from './adapters.js'
import type {CallSpec, Served} from './call.js'

export const USER_AGENT = 'gptconv/0.1'

/**
 * OpenAI-compatible upstreams: the body goes on as the client sent it, with the model
 * renamed by the upstream's `modelMap`. Streams always ask for the usage chunk
 * (`stream_options.include_usage`) so usage is known; the chat route strips it again when
 * the client did not ask.
 */
export const openaiAdapter: ProtocolAdapter = {
  request(spec: CallSpec, served: Served, secret: string): AdapterRequest {
    const headers: Record<string, string> = {authorization: `Bearer ${secret}`, 'user-agent': USER_AGENT, accept: spec.stream ? 'text/event-stream' : 'application/json'}
    const url = served.upstream.baseUrl + PATHS[spec.endpoint]
    if (spec.endpoint === 'models') return {url, method: 'GET', headers}
    headers['content-type'] = 'application/json'
    const model = served.upstream.modelMap?.[spec.model] ?? spec.model
    const askUsage = spec.stream && (spec.endpoint === 'chat' || spec.endpoint === 'completions') && !(isObject(spec.body.stream_options) && spec.body.stream_options.include_usage === true)
    // the client's own bytes when nothing changes (no re-serializing a long conversation)
    const raw = model === spec.body.model && !askUsage ? rawBodyOf(spec.body) : undefined
    if (raw !== undefined) return {url, method: 'POST', headers, body: raw}
    const body: Record<string, unknown> = {...spec.body, model}
    if (askUsage) body.stream_options = {...(isObject(spec.body.stream_options) ? spec.body.stream_options : {}), include_usage: true}
    return {url, method: 'POST', headers, body: JSON.stringify(body)}
  },
}
