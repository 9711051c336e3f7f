import {InvalidRequestError} from '../errors.js'
import type {ChatRequest} from '../chat/types.js'
import type {LegacyPlan} from './types.js'

/**
 * Legacy `/v1/completions` request → one chat request per prompt (docs/protocols.md §1.2).
 * Every legacy parameter is honoured, emulated or refused with a 400 naming it — none is
 * dropped: `max_tokens` keeps its legacy default of 16, `logprobs: N` becomes
 * `logprobs: true, top_logprobs: N`, `echo` and `best_of` are emulated on our side,
 * `suffix` (fill-in-the-middle) has no chat equivalent and is refused.
 */

/** Fields the converter handles itself; anything else goes on to chat as it is. */
const HANDLED = new Set([
  'model',
  'prompt',
  'suffix',
  'max_tokens',
  'n',
  'stream',
  'stream_options',
  'logprobs',
  'echo',
  'best_of',
])

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v)
const isTokens = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((t) => isInt(t) && t >= 0)

function prompts(value: unknown): Array<string | number[]> {
  // a missing prompt is the start of a new document (OpenAI's default "<|endoftext|>")
  if (value === undefined || value === null) return ['']
  if (typeof value === 'string') return [value]
  if (isTokens(value)) return [value]
  if (Array.isArray(value) && value.length > 0 && value.every((p) => typeof p === 'string')) return value as string[]
  if (Array.isArray(value) && value.length > 0 && value.every((p) => isTokens(p))) return value as number[][]
  throw new InvalidRequestError(
    '`prompt` must be a string, an array of strings, an array of token ids, or an array of token-id arrays (not empty).',
    'prompt',
  )
}

function intIn(body: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (!isInt(value) || value < min || value > max)
    throw new InvalidRequestError(`\`${name}\` must be an integer from ${min} to ${max}.`, name)
  return value
}

export function parseCompletionsRequest(body: Record<string, unknown>): LegacyPlan {
  if (typeof body.model !== 'string' || body.model === '')
    throw new InvalidRequestError('you must provide a model parameter', 'model')
  if (typeof body.suffix === 'string' && body.suffix !== '') {
    throw new InvalidRequestError(
      '`suffix` (insertion) is not supported: this model is served through the chat API, which has no fill-in-the-middle. Send the text before and after the gap in the prompt instead.',
      'suffix',
    )
  }

  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean')
    throw new InvalidRequestError('`stream` must be a boolean.', 'stream')
  if (body.echo !== undefined && body.echo !== null && typeof body.echo !== 'boolean')
    throw new InvalidRequestError('`echo` must be a boolean.', 'echo')
  const stream = body.stream === true
  const so = body.stream_options
  if (so !== undefined && so !== null && (typeof so !== 'object' || Array.isArray(so)))
    throw new InvalidRequestError('`stream_options` must be an object.', 'stream_options')
  if (so && !stream)
    throw new InvalidRequestError('`stream_options` is only allowed when `stream` is true.', 'stream_options')
  const n = intIn(body, 'n', 1, 128) ?? 1
  const maxTokens = intIn(body, 'max_tokens', 0, Number.MAX_SAFE_INTEGER) ?? 16
  const logprobs = intIn(body, 'logprobs', 0, 5) ?? null
  const echo = body.echo === true
  if (echo && logprobs !== null) {
    throw new InvalidRequestError(
      '`echo` together with `logprobs` needs log probabilities of the prompt tokens, which chat models cannot return. Drop one of them.',
      'echo',
    )
  }

  const bestOf = intIn(body, 'best_of', 1, 20)
  if (bestOf !== undefined && bestOf < n)
    throw new InvalidRequestError('`best_of` must be greater than or equal to `n`.', 'best_of')
  const passThrough: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body))
    if (!HANDLED.has(key) && value !== undefined) passThrough[key] = value
  return {
    model: body.model,
    prompts: prompts(body.prompt),
    n,
    maxTokens,
    stream,
    wantUsage: Boolean(so && (so as {include_usage?: unknown}).include_usage === true),
    echo,
    logprobs,
    bestOf: bestOf !== undefined && bestOf > n ? bestOf : undefined,
    passThrough,
  }
}

/** Reasoning models refuse the deprecated `max_tokens`; they take `max_completion_tokens`. */
export function usesCompletionTokens(model: string): boolean {
  return /^(o\d|gpt-5)/i.test(model)
}

/** The chat request for one prompt (already decoded to text); whether it streams is the caller's to set. */
export function completionsRequestToChat(plan: LegacyPlan, prompt: string): ChatRequest {
  const wantLogprobs = plan.logprobs !== null || plan.bestOf !== undefined
  return {
    ...plan.passThrough,
    model: plan.model,
    messages: [{role: 'user', content: prompt}],
    n: plan.bestOf ?? plan.n,
    [usesCompletionTokens(plan.model) ? 'max_completion_tokens' : 'max_tokens']: plan.maxTokens,
    ...(wantLogprobs && {logprobs: true, top_logprobs: plan.logprobs ?? 0}),
  }
}
