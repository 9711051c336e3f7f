import type {ChatCompletion, ChatFinishReason, ChatTokenLogprob, ChatUsage} from '../chat/types.js'
import {newId} from './ids.js'
import type {
  CustomToolCallItem,
  FunctionCallItem,
  IdMaker,
  ItemStatus,
  OutputItem,
  OutputPart,
  Response,
  ResponsesDeltaLogprob,
  ResponsesLogprob,
  ResponsesPlan,
  ResponseStatus,
  ResponsesUsage,
} from './types.js'

/**
 * Chat answers → Responses `Response` objects: the pieces the non-stream answer and the
 * stream encoder share, and the non-stream conversion itself. The message item is left out
 * when it would be empty and the answer is tool calls; `call_id` keeps the upstream's tool
 * call id, because the client sends it back in `function_call_output`.
 */

export type ResponseOptions = {
  /** the response id (default: a new `resp_…`) */
  id?: string
  /** unix seconds (default: now) */
  createdAt?: number
  /** makes item ids (tests pass a counter) */
  newId?: IdMaker
}

const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0)

export function usageToResponses(usage: ChatUsage | null | undefined): ResponsesUsage {
  const input = count(usage?.prompt_tokens)
  const output = count(usage?.completion_tokens)
  return {
    input_tokens: input,
    input_tokens_details: {
      cached_tokens: count(usage?.prompt_tokens_details?.cached_tokens),
      cache_write_tokens: count(usage?.prompt_tokens_details?.cache_write_tokens),
    },
    output_tokens: output,
    output_tokens_details: {reasoning_tokens: count(usage?.completion_tokens_details?.reasoning_tokens)},
    total_tokens: usage?.total_tokens ?? input + output,
  }
}

export type Ending = {status: 'completed' | 'incomplete'; incomplete: Response['incomplete_details']}

/** Chat's finish reason → the Response status: a cut-off answer is `incomplete`, with the reason. */
export function endingOf(finish: ChatFinishReason | null | undefined): Ending {
  if (finish === 'length') return {status: 'incomplete', incomplete: {reason: 'max_output_tokens'}}
  if (finish === 'content_filter') return {status: 'incomplete', incomplete: {reason: 'content_filter'}}
  return {status: 'completed', incomplete: null}
}

export type ResponseFields = {
  id: string
  createdAt: number
  model: string
  status: ResponseStatus
  output: OutputItem[]
  usage?: ResponsesUsage
  error?: Response['error']
  incomplete?: Response['incomplete_details']
  /** the tier the upstream reports having used */
  serviceTier?: string | null
}

export function buildResponse(plan: ResponsesPlan, fields: ResponseFields): Response {
  return {
    id: fields.id,
    object: 'response',
    created_at: fields.createdAt,
    status: fields.status,
    background: false,
    error: fields.error ?? null,
    incomplete_details: fields.incomplete ?? null,
    model: fields.model,
    output: fields.output,
    ...plan.echo,
    service_tier: fields.serviceTier ?? plan.echo.service_tier,
    ...(fields.usage && {usage: fields.usage}),
  }
}

/** A custom tool's chat arguments (`{"input": "…"}`) → its free-form input; anything else is taken as the input itself. */
export function customInput(args: string): string {
  try {
    const parsed: unknown = JSON.parse(args)
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as {input?: unknown}).input === 'string')
      return (parsed as {input: string}).input
  } catch {
    // not JSON: the model wrote the input itself
  }

  return args
}

export function callItem(
  call: {callId: string; name: string; args: string},
  plan: ResponsesPlan,
  makeId: IdMaker,
  status: ItemStatus,
): FunctionCallItem | CustomToolCallItem {
  if (plan.customTools.includes(call.name))
    return {
      type: 'custom_tool_call',
      id: makeId('ctc'),
      call_id: call.callId,
      name: call.name,
      input: customInput(call.args),
    }
  return {type: 'function_call', id: makeId('fc'), call_id: call.callId, name: call.name, arguments: call.args, status}
}

/** Chat token logprobs → the `output_text` part's (every field required there). */
export function logprobsToResponses(content: readonly ChatTokenLogprob[] | null | undefined): ResponsesLogprob[] {
  return (content ?? []).map((t) => ({
    token: t.token,
    logprob: t.logprob,
    bytes: t.bytes ?? [],
    top_logprobs: (t.top_logprobs ?? []).map((a) => ({token: a.token, logprob: a.logprob, bytes: a.bytes ?? []})),
  }))
}

/** Chat token logprobs → the text delta event's lighter shape. */
export function deltaLogprobs(content: readonly ChatTokenLogprob[] | null | undefined): ResponsesDeltaLogprob[] {
  return (content ?? []).map((t) => ({
    token: t.token,
    logprob: t.logprob,
    top_logprobs: (t.top_logprobs ?? []).map((a) => ({token: a.token, logprob: a.logprob})),
  }))
}

export function chatCompletionToResponse(
  chat: ChatCompletion,
  plan: ResponsesPlan,
  options: ResponseOptions = {},
): Response {
  const makeId = options.newId ?? newId
  const choice = chat.choices.find((c) => c.index === 0) ?? chat.choices[0]
  const message = choice?.message
  const ending = endingOf(choice?.finish_reason)
  const status: ItemStatus = ending.status === 'completed' ? 'completed' : 'incomplete'
  const calls = message?.tool_calls ?? []
  const text = typeof message?.content === 'string' ? message.content : ''
  const refusal = message?.refusal ?? ''
  const output: OutputItem[] = []
  if (text !== '' || refusal !== '' || calls.length === 0) {
    const content: OutputPart[] = []
    if (text !== '' || refusal === '')
      content.push({
        type: 'output_text',
        text,
        annotations: [],
        logprobs: logprobsToResponses(choice?.logprobs?.content),
      })
    if (refusal !== '') content.push({type: 'refusal', refusal})
    output.push({type: 'message', id: makeId('msg'), role: 'assistant', status, content})
  }

  for (const call of calls)
    output.push(
      callItem({callId: call.id, name: call.function.name, args: call.function.arguments}, plan, makeId, status),
    )
  return buildResponse(plan, {
    id: options.id ?? makeId('resp'),
    createdAt: options.createdAt ?? Math.floor(Date.now() / 1000),
    model: chat.model || plan.model,
    status: ending.status,
    incomplete: ending.incomplete,
    output,
    usage: usageToResponses(chat.usage),
    serviceTier: chat.service_tier,
  })
}
