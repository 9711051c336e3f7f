import {InvalidRequestError} from '../errors.js'
import {isObject} from './input.js'
import type {TextConfig, TextFormat} from './types.js'

/**
 * The Responses request's scalar and small-object parameters: validated, mapped to their chat
 * names, and kept for the echo in the Response object. `null` means "not given" everywhere,
 * as in the API.
 */

type Body = Record<string, unknown>

const given = (body: Body, name: string) => body[name] !== undefined && body[name] !== null

export function optString(body: Body, name: string): string | undefined {
  if (!given(body, name)) return undefined
  if (typeof body[name] !== 'string') throw new InvalidRequestError(`\`${name}\` must be a string.`, name)
  return body[name]
}

export function optBoolean(body: Body, name: string): boolean | undefined {
  if (!given(body, name)) return undefined
  if (typeof body[name] !== 'boolean') throw new InvalidRequestError(`\`${name}\` must be a boolean.`, name)
  return body[name]
}

export function optNumber(body: Body, name: string, min: number, max: number, integer = false): number | undefined {
  if (!given(body, name)) return undefined
  const value = body[name]
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    throw new InvalidRequestError(
      `\`${name}\` must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}.`,
      name,
    )
  }

  return value
}

/** Server-side state a bridge does not have: refused rather than silently ignored. */
export function refuseServerState(body: Body): void {
  if (body.background === true)
    throw new InvalidRequestError(
      "`background` responses need OpenAI's servers to run them; they cannot be served through a chat upstream.",
      'background',
    )
  if (given(body, 'conversation'))
    throw new InvalidRequestError(
      "`conversation` objects live on OpenAI's servers; continue with `previous_response_id` instead.",
      'conversation',
    )
  if (given(body, 'prompt'))
    throw new InvalidRequestError(
      "`prompt` templates live on OpenAI's servers and cannot be served through a chat upstream; send `instructions` and `input` instead.",
      'prompt',
    )
}

export function decodeMetadata(body: Body): Record<string, string> {
  if (!given(body, 'metadata')) return {}
  const value = body.metadata
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string') || Object.keys(value).length > 16) {
    throw new InvalidRequestError('`metadata` must be an object of at most 16 string values.', 'metadata')
  }

  return value as Record<string, string>
}

function textFormat(format: unknown): {echo: TextFormat; chat: unknown} {
  if (format === undefined || format === null) return {echo: {type: 'text'}, chat: undefined}
  if (!isObject(format)) throw new InvalidRequestError('`text.format` must be an object.', 'text.format')
  if (format.type === 'text') return {echo: {type: 'text'}, chat: undefined}
  if (format.type === 'json_object') return {echo: {type: 'json_object'}, chat: {type: 'json_object'}}
  if (format.type !== 'json_schema')
    throw new InvalidRequestError(
      '`text.format.type` must be "text", "json_object" or "json_schema".',
      'text.format.type',
    )
  if (typeof format.name !== 'string' || format.name === '')
    throw new InvalidRequestError('`text.format.name` must be a non-empty string.', 'text.format.name')
  if (!isObject(format.schema))
    throw new InvalidRequestError('`text.format.schema` must be a JSON schema object.', 'text.format.schema')
  const strict = typeof format.strict === 'boolean' ? format.strict : undefined
  const description = typeof format.description === 'string' ? format.description : undefined
  const fields = {
    name: format.name,
    schema: format.schema,
    ...(strict !== undefined && {strict}),
    ...(description !== undefined && {description}),
  }
  return {echo: {type: 'json_schema', ...fields}, chat: {type: 'json_schema', json_schema: fields}}
}

/** `text` → echo, chat `response_format` and `verbosity`. */
export function decodeText(body: Body): {echo: TextConfig; responseFormat: unknown; verbosity: string | undefined} {
  const text = body.text
  if (text !== undefined && text !== null && !isObject(text))
    throw new InvalidRequestError('`text` must be an object.', 'text')
  const format = textFormat(text?.format)
  const verbosity = text?.verbosity ?? undefined
  if (verbosity !== undefined && verbosity !== 'low' && verbosity !== 'medium' && verbosity !== 'high') {
    throw new InvalidRequestError('`text.verbosity` must be "low", "medium" or "high".', 'text.verbosity')
  }

  return {echo: {format: format.echo, ...(verbosity && {verbosity})}, responseFormat: format.chat, verbosity}
}

/** `reasoning` → echo and chat `reasoning_effort`; the summary has no chat counterpart. */
export function decodeReasoning(body: Body): {
  echo: {effort: string | null; summary: string | null}
  effort: string | undefined
} {
  const reasoning = body.reasoning
  if (reasoning === undefined || reasoning === null) return {echo: {effort: null, summary: null}, effort: undefined}
  if (!isObject(reasoning)) throw new InvalidRequestError('`reasoning` must be an object.', 'reasoning')
  const effort = reasoning.effort ?? undefined
  if (effort !== undefined && typeof effort !== 'string')
    throw new InvalidRequestError('`reasoning.effort` must be a string.', 'reasoning.effort')
  const summary = typeof reasoning.summary === 'string' ? reasoning.summary : null
  return {echo: {effort: effort ?? null, summary}, effort}
}

/** Accepted for what they mean on OpenAI's servers, with nothing to send to chat. */
export function checkAccepted(body: Body): {
  truncation: 'auto' | 'disabled'
  maxToolCalls: number | null
  include: string[]
} {
  const truncation = body.truncation ?? 'disabled'
  if (truncation !== 'auto' && truncation !== 'disabled')
    throw new InvalidRequestError('`truncation` must be "auto" or "disabled".', 'truncation')
  const maxToolCalls = optNumber(body, 'max_tool_calls', 0, Number.MAX_SAFE_INTEGER, true) ?? null
  const include = body.include ?? []
  if (!Array.isArray(include) || include.some((v) => typeof v !== 'string'))
    throw new InvalidRequestError('`include` must be a list of strings.', 'include')
  if (given(body, 'stream_options') && !isObject(body.stream_options))
    throw new InvalidRequestError('`stream_options` must be an object.', 'stream_options')
  return {truncation, maxToolCalls, include: include as string[]}
}
