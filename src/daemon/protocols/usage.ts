import type {ChatUsage} from './chat/types.js'

type Details = {cached_tokens?: unknown; reasoning_tokens?: unknown} | null | undefined
type AnyUsage = {
  prompt_tokens?: unknown
  completion_tokens?: unknown
  input_tokens?: unknown
  output_tokens?: unknown
  prompt_tokens_details?: Details
  completion_tokens_details?: Details
  input_tokens_details?: Details
  output_tokens_details?: Details
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0)

/**
 * An upstream's usage object in either of OpenAI's shapes — chat and legacy completions
 * (`prompt_tokens`, `completion_tokens`, `*_tokens_details`) or Responses and images
 * (`input_tokens`, `output_tokens`, `*_tokens_details`) — as chat usage, cached and
 * reasoning tokens included; undefined when there is none.
 */
export function readUsage(value: unknown): ChatUsage | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const u = value as AnyUsage
  const chatShape = typeof u.prompt_tokens === 'number'
  if (!chatShape && typeof u.input_tokens !== 'number') return undefined
  const prompt = count(chatShape ? u.prompt_tokens : u.input_tokens)
  const completion = count(chatShape ? u.completion_tokens : u.output_tokens)
  const cached = count((chatShape ? u.prompt_tokens_details : u.input_tokens_details)?.cached_tokens)
  const reasoning = count((chatShape ? u.completion_tokens_details : u.output_tokens_details)?.reasoning_tokens)
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(cached > 0 && {prompt_tokens_details: {cached_tokens: cached}}),
    ...(reasoning > 0 && {completion_tokens_details: {reasoning_tokens: reasoning}}),
  }
}

/** The usage of a parsed answer body of any OpenAI shape. */
export function usageOfBody(body: unknown): ChatUsage | undefined {
  return readUsage((body as {usage?: unknown} | null)?.usage)
}

export function addUsage(a: ChatUsage, b: ChatUsage): ChatUsage {
  const cached = (a.prompt_tokens_details?.cached_tokens ?? 0) + (b.prompt_tokens_details?.cached_tokens ?? 0)
  const reasoning =
    (a.completion_tokens_details?.reasoning_tokens ?? 0) + (b.completion_tokens_details?.reasoning_tokens ?? 0)
  const prompt = a.prompt_tokens + b.prompt_tokens
  const completion = a.completion_tokens + b.completion_tokens
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(cached > 0 && {prompt_tokens_details: {cached_tokens: cached}}),
    ...(reasoning > 0 && {completion_tokens_details: {reasoning_tokens: reasoning}}),
  }
}

export const NO_USAGE: ChatUsage = Object.freeze({prompt_tokens: 0, completion_tokens: 0, total_tokens: 0})
