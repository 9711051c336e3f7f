import {setMaxListeners} from 'node:events'

import {countChatPrompt, countText} from '../core/tokenizer.js'
import type {Cancellation} from './cancellation.js'
import {badRequest, toWireError} from './errors.js'
import {ResponseTarget} from './http.js'
import type {Relay, StreamEncoder} from './protocols/codec.js'
import type {ChatCompletion, ChatRequest, ChatUsage} from './protocols/chat/types.js'
import {NO_USAGE, addUsage, usageOfBody} from './protocols/usage.js'
import type {RequestContext} from './router.js'
import {SessionStore} from './sessions.js'
import {ledgerUsage} from './state.js'
import {type AnswerStage, NativeStage, PivotStage, clientGone, streamFailure} from './stream.js'
import type {Endpoint, Served} from './upstream/adapter.js'
import type {CallSpec} from './upstream/call.js'

/**
 * The one pipeline every API route goes through once it decoded its request: the model
 * checked once, one upstream call per part (several only when legacy prompts fan out), each
 * with its attempts and failover through the pool; the answer written to the client — passed
 * through when the upstream speaks the client's wire, else the client's codec encodes the
 * pivot; after a stream began, a failure ends it with the wire's in-band error; usage
 * (reported, else estimated) recorded for every part that reached an upstream.
 */
export type ExchangeSpec = {
  endpoint: Endpoint
  /** the model after aliases */
  model: string
  /** the client's body, for upstreams that take this endpoint as it is (single-part requests only) */
  native?: Record<string, unknown>
  /** the client wire's passthrough of a stream (with `native`, when streaming) */
  relay?: () => Relay
  /** the pivot (chat) requests, one per part */
  pivots: readonly ChatRequest[]
  stream: boolean
  /** pivot streams → the client's wire (streaming with pivots) */
  encoder?: StreamEncoder
  /** complete pivot answers → the client's body */
  answer?: (parts: ChatCompletion[]) => {body: unknown; headers?: Record<string, string>}
  /** writes a complete answer itself instead of as JSON (a legacy best_of asked as a stream); `text` is the upstream's own when passed through */
  write?: (answer: {body: unknown; text?: string}, headers: Record<string, string>) => void
  /** only this token may answer */
  token?: string
}

export type Exchanged = {
  /** the client got a whole answer */
  ok: boolean
  /** passed through from an upstream of the client's wire, or encoded from the pivot */
  mode: 'native' | 'pivot'
  /** the first choice's text, for a session's memory */
  text: string
  /** the answer as sent, when gptconv built or parsed it (complete answers) */
  body?: unknown
  served?: Served
}

/** Prompts of one request answered at the same time (each still waits for a free token in the pool). */
const FAN_OUT = 16

export async function exchange(rc: RequestContext, spec: ExchangeSpec): Promise<Exchanged> {
  const parts = spec.pivots.length > 0 ? spec.pivots.length : 1
  if (parts > 1 && spec.native) throw new TypeError('`native` is for single-part requests')
  const {maxMessages} = rc.daemon.registry.settings.server
  if (spec.pivots.some((p) => p.messages.length > maxMessages))
    throw badRequest(
      `The request has more than ${maxMessages} messages (server.maxMessages).`,
      'messages',
      'too_many_messages',
    )
  if (spec.token === undefined)
    rc.daemon.registry.requireModel(spec.endpoint, spec.model, {
      native: spec.native !== undefined,
      pivot: spec.pivots[0],
    })
  return spec.stream ? streamed(rc, spec, parts) : complete(rc, spec, parts)
}

function callSpec(spec: ExchangeSpec, part: number, signal: Cancellation, stream: boolean): CallSpec {
  return {
    endpoint: spec.endpoint,
    model: spec.model,
    native: spec.native,
    pivot: spec.pivots[part],
    stream,
    signal,
    token: spec.token,
  }
}

async function complete(rc: RequestContext, spec: ExchangeSpec, parts: number): Promise<Exchanged> {
  const {daemon, res} = rc
  const controller = parts > 1 ? linkedController(rc.signal) : undefined
  const results = await fanOut(parts, async (part) => {
    const startedMs = performance.now()
    const result = await daemon.caller
      .answer(callSpec(spec, part, controller?.signal ?? rc.signal, false))
      .catch((error: unknown) => {
        controller?.abort(error)
        throw error
      })
    noteServed(rc, result)
    const reported = result.mode === 'native' ? usageOfBody(result.json) : result.chat.usage
    const usage =
      reported ??
      (await estimate(
        spec.pivots[part] ?? spec.native,
        result.mode === 'native' ? answerText(result.json) : answerText(result.chat),
        spec.model,
      ))
    if (result.mode === 'pivot' && !reported) result.chat.usage = usage
    daemon.recordUsage(result, {
      endpoint: spec.endpoint,
      model: spec.model,
      usage: ledgerUsage(usage, !reported || result.estimatesUsage),
      status: 200,
      startedMs,
    })
    return result
  })

  const first = results[0]
  const headers: Record<string, string> = {'x-request-id': rc.requestId, ...first.headers}
  if (parts === 1 && first.mode === 'native') {
    if (spec.write) spec.write({body: first.json, text: first.text}, headers)
    else {
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(Buffer.byteLength(first.text))
      res.writeHead(200, headers)
      res.end(first.text)
    }

    return {ok: true, mode: 'native', text: answerText(first.json, 0), body: first.json, served: first}
  }

  const chats = results.map((r) => (r.mode === 'pivot' ? r.chat : (r.json as ChatCompletion)))
  const {body, headers: extra} = spec.answer!(chats)
  if (spec.write) spec.write({body}, {...headers, ...extra})
  else {
    const text = JSON.stringify(body)
    res.writeHead(200, {
      ...headers,
      ...extra,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    })
    res.end(text)
  }

  return {ok: true, mode: 'pivot', text: answerText(chats[0], 0), body, served: first}
}

async function streamed(rc: RequestContext, spec: ExchangeSpec, parts: number): Promise<Exchanged> {
  const {daemon, res} = rc
  const controller = parts > 1 ? linkedController(rc.signal) : undefined
  const target = new ResponseTarget(res, {'x-request-id': rc.requestId})
  let total = NO_USAGE
  let relay: Relay | undefined
  let text = ''
  let served: Served | undefined
  try {
    await fanOut(parts, async (part) => {
      const startedMs = performance.now()
      let attempt: Served | undefined
      let stage: AnswerStage | undefined
      let ok = false
      try {
        const result = await daemon.caller.stream(callSpec(spec, part, controller?.signal ?? rc.signal, true), {
          target,
          output: (next, mode, decoder, wrap) => {
            attempt = next
            if (mode === 'native') stage = new NativeStage((relay = wrap(spec.relay!())))
            else stage = new PivotStage(decoder!, spec.encoder!, part)
            return stage
          },
        })
        noteServed(rc, result)
        served ??= result
        ok = true
      } catch (error) {
        controller?.abort(error)
        throw attempt ? streamFailure(error, attempt.upstream.name) : error
      } finally {
        if (attempt && stage) {
          const usage = stage.usage ?? (await estimate(spec.pivots[part] ?? spec.native, stage.text(), spec.model))
          total = addUsage(total, usage)
          if (part === 0) text = stage.text()
          daemon.recordUsage(attempt, {
            endpoint: spec.endpoint,
            model: spec.model,
            usage: ledgerUsage(usage, !stage.usage || attempt.estimatesUsage),
            status: ok ? 200 : 'error',
            startedMs,
          })
        }
      }
    })
  } catch (error) {
    if (clientGone(rc.signal) || !res.headersSent) throw error
    const failure = toWireError(error)
    target.end(relay ? relay.fail(failure) : spec.encoder!.fail(failure))
    return {ok: false, mode: relay ? 'native' : 'pivot', text, served}
  }

  target.end(relay ? relay.end() : spec.encoder!.end(total))
  return {ok: true, mode: relay ? 'native' : 'pivot', text, served}
}

export function noteServed(rc: RequestContext, served: Served & {attempts: number}): void {
  rc.meta.token = served.token.label
  rc.meta.attempts = served.attempts
}

/** The text of a chat completion (or a legacy one): of one choice, or of all. */
export function answerText(json: unknown, index?: number): string {
  const choices = (json as {choices?: Array<{index?: number; text?: unknown; message?: {content?: unknown}}>} | null)
    ?.choices
  if (!Array.isArray(choices)) return ''
  let text = ''
  for (const c of choices) {
    if (index !== undefined && (c?.index ?? 0) !== index) continue
    const content = c?.message?.content ?? c?.text
    if (typeof content === 'string') text += content
  }

  return text
}

/** Usage counted with the tokenizer, for answers whose upstream reported none. */
export async function estimate(
  request: {messages?: unknown} | undefined,
  completion: string,
  model: string,
): Promise<ChatUsage> {
  const prompt = await countChatPrompt(request?.messages, model)
  const answer = await countText(completion, model)
  return {prompt_tokens: prompt, completion_tokens: answer, total_tokens: prompt + answer}
}

/** Run `fn` over parts 0…n-1, at most FAN_OUT at once; the first failure ends the run. */
async function fanOut<R>(n: number, fn: (part: number) => Promise<R>): Promise<R[]> {
  if (n === 1) return [await fn(0)]
  const results = new Array<R>(n)
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      results[i] = await fn(i)
    }
  }

  await Promise.all(Array.from({length: Math.min(FAN_OUT, n)}, worker))
  return results
}

/** A controller that aborts with `signal`, shared by the FAN_OUT upstream calls of one request (each listens to it). */
function linkedController(signal: Cancellation): AbortController {
  const controller = new AbortController()
  setMaxListeners(FAN_OUT + 4, controller.signal)
  if (signal.aborted) controller.abort(signal.reason)
  else signal.addEventListener('abort', () => controller.abort(signal.reason), {once: true})
  return controller
}

/** The model a client named, after `aliases` (noted for the access log). */
export function resolveModel(rc: RequestContext, name: string): string {
  const model = rc.daemon.registry.resolveAlias(name)
  rc.meta.model = model
  return model
}

/**
 * An exchange inside a session (`X-Session-Id`): the stored history goes in front of the
 * request's messages, and the answer is remembered once it completed. Always through the
 * pivot: the messages sent are not the client's body any more.
 */
export async function exchangeInSession(
  rc: RequestContext,
  sessionId: string,
  spec: ExchangeSpec,
  maxTokens: number | undefined,
): Promise<Exchanged> {
  const {daemon} = rc
  const pivot = spec.pivots[0]
  const key = SessionStore.key(daemon.clientKey, sessionId)
  return daemon.sessions.turn(
    key,
    pivot.messages,
    {model: spec.model, defaultModel: daemon.registry.settings.defaultModel, maxTokens},
    async (turn) => {
      const result = await exchange(rc, {...spec, native: undefined, pivots: [{...pivot, messages: turn.messages}]})
      if (result.ok) turn.commit(result.text)
      return result
    },
  )
}
