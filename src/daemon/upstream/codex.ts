import {randomUUID} from 'node:crypto'

import {limitsFromFrame, limitsFromHeaders} from '../../core/plan-limits.js'
import {encodingFor} from '../../core/tokenizer.js'
import {chatChunksToCompletion} from '../protocols/chat/aggregate.js'
import {LimitedDecoder, TextLimiter} from '../protocols/chat/limits.js'
import type {ChatChunk, ChatRequest} from '../protocols/chat/types.js'
import {chatToCodexRequest, toCodexRequest} from '../protocols/codex/request.js'
import {CodexDecoder, CodexRelay, type FrameListener, foldCodexStream} from '../protocols/codex/stream.js'
import {ResponsesDecoder} from '../protocols/responses/decoder.js'
import {SseParser, type SseEvent} from '../sse.js'
import type {ErrorVerdict, UpstreamAdapter, UpstreamCall} from './adapter.js'

/**
 * The ChatGPT plan's Codex backend (`https://chatgpt.com/backend-api/codex`): Responses
 * clients are passed through with the backend's rules applied (see protocols/codex); chat,
 * legacy and Messages clients come through the pivot and the Responses mapping. It always
 * streams; complete answers are folded. It keeps nothing, so the daemon stores what a
 * client asked to store. One account answers one request at a time (the registry's
 * default). Its usage limits are read from every answer's headers and frames.
 */

/** The client version the model list asks for (the backend filters models by it). */
export const CODEX_CLIENT_VERSION = '0.160.0'

/** What `GET /v1/models` lists when the plan's own list cannot be had. */
export const CODEX_DEFAULT_MODELS = ['gpt-5.6-sol', 'gpt-5.5', 'gpt-5.4-mini']

function frames(call: UpstreamCall): FrameListener {
  return (type, data) => {
    if (type !== 'codex.rate_limits') return
    const limits = limitsFromFrame(data)
    if (limits) call.onLimits?.(limits)
  }
}

/** stop and max_tokens of a pivot request, which the backend refuses, applied by the daemon. */
async function limiterFor(chat: ChatRequest, model: string): Promise<TextLimiter> {
  const maxTokens = chat.max_completion_tokens ?? chat.max_tokens
  return new TextLimiter({
    stop: chat.stop,
    maxTokens,
    tokenizer: maxTokens === undefined ? undefined : await encodingFor(model),
  })
}

async function events(body: AsyncIterable<unknown>): Promise<SseEvent[]> {
  const parser = new SseParser()
  const out: SseEvent[] = []
  for await (const data of body) out.push(...parser.push(data as Buffer))
  out.push(...parser.end())
  return out
}

/** A 429 that says when the plan's window resets: the token rests until then, the client hears the plan's words. */
function usageLimit(status: number, text: string): ErrorVerdict | undefined {
  if (status !== 429 && !(status === 404 && text.includes('usage_limit_reached'))) return undefined
  let error:
    | {type?: unknown; message?: unknown; resets_at?: unknown; resets_in_seconds?: unknown; plan_type?: unknown}
    | undefined
  try {
    error = (JSON.parse(text) as {error?: typeof error}).error
  } catch {
    return undefined
  }

  if (error?.type !== 'usage_limit_reached') return undefined
  const resetsAt =
    typeof error.resets_at === 'number'
      ? error.resets_at * 1000
      : typeof error.resets_in_seconds === 'number'
        ? Date.now() + error.resets_in_seconds * 1000
        : Date.now() + 3_600_000
  const when = new Date(resetsAt).toISOString()
  const plan = typeof error.plan_type === 'string' ? ` (${error.plan_type} plan)` : ''
  const message = `${typeof error.message === 'string' ? error.message : 'The usage limit has been reached'}${plan}; it resets at ${when}.`
  return {
    kind: 'cooldown',
    ms: Math.max(1000, resetsAt - Date.now()),
    reason: `usage limit reached${plan} until ${when}`,
    message,
  }
}

/** `{"detail": "…"}`: the backend refusing the request itself (an unsupported model, a parameter). */
function refusal(status: number, text: string): ErrorVerdict | undefined {
  if (status !== 400 && status !== 404 && status !== 422) return undefined
  try {
    const detail = (JSON.parse(text) as {detail?: unknown}).detail
    if (typeof detail === 'string' && detail)
      return {kind: 'client', status: status === 404 ? 400 : status, message: detail, code: 'upstream_refused_request'}
  } catch {
    // not the backend's shape: the default handling applies
  }

  return undefined
}

export const codexAdapter: UpstreamAdapter = {
  fallbackModels: CODEX_DEFAULT_MODELS,
  keepsResponses: false,
  serves: (endpoint) => endpoint !== 'embeddings' && endpoint !== 'images',
  native: (endpoint) => endpoint === 'responses' || endpoint === 'models',

  refuses(chat) {
    if (typeof chat.n === 'number' && chat.n > 1)
      return [
        'n',
        '`n` > 1 is not available on the ChatGPT plan: it answers once per request. Send n separate requests.',
        'unsupported_on_codex',
      ]
    if (chat.logprobs === true)
      return ['logprobs', '`logprobs` is not available on the ChatGPT plan.', 'unsupported_on_codex']
    return undefined
  },

  request(call, served, secret) {
    const {upstream, token} = served
    const headers: Record<string, string> = {
      authorization: `Bearer ${secret}`,
      originator: 'codex_cli_rs',
      'user-agent': 'gptconv/0.1',
      ...(token.chatgptAccountId && {'chatgpt-account-id': token.chatgptAccountId}),
    }
    if (call.endpoint === 'models')
      return {
        url: `${upstream.baseUrl}/models?client_version=${CODEX_CLIENT_VERSION}`,
        method: 'GET',
        headers: {...headers, accept: 'application/json'},
      }
    const {body, notes} =
      call.mode === 'native' ? toCodexRequest(call.body) : chatToCodexRequest(call.body as ChatRequest)
    // the backend derives prompt-cache affinity from the session id: the client's cache key when it gives one
    const session = typeof body.prompt_cache_key === 'string' ? body.prompt_cache_key : randomUUID()
    Object.assign(headers, {
      accept: 'text/event-stream',
      'content-type': 'application/json',
      session_id: session,
      'session-id': session,
    })
    return {
      url: `${upstream.baseUrl}/responses`,
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      ...(notes.length > 0 && {notes}),
    }
  },

  async decoder(call) {
    return new LimitedDecoder(
      new CodexDecoder(new ResponsesDecoder({model: call.model}), frames(call)),
      await limiterFor(call.body as ChatRequest, call.model),
    )
  },

  async readAnswer(body, call) {
    const decoder = await codexAdapter.decoder(call, undefined as never)
    const chunks: ChatChunk[] = [...decoder.process(await events(body)), ...decoder.finish()]
    return chatChunksToCompletion(chunks, {
      id: `chatcmpl-${randomUUID()}`,
      created: Math.floor(Date.now() / 1000),
      model: call.model,
    })
  },

  async readNative(body, call) {
    const response = foldCodexStream(await events(body), frames(call))
    return {text: JSON.stringify(response), json: response}
  },

  wrapRelay: (relay, call) => new CodexRelay(relay, frames(call)),
  limits: (headers) => limitsFromHeaders(headers),
  classify: (status, _headers, text) => usageLimit(status, text) ?? refusal(status, text),
  models: (json) =>
    ((json as {models?: Array<{slug?: unknown; visibility?: unknown}>}).models ?? [])
      .filter((m) => typeof m.slug === 'string' && m.visibility !== 'hide')
      .map((m) => m.slug as string),
}
