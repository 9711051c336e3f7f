/**
 * What the fake OpenAI upstream's endpoints share: the error envelope, the request field readers
 * (each failure a 400 invalid_request_error naming the param, worded as OpenAI words them) and the
 * word tokens every answer is counted and streamed in.
 */
export type Json = Record<string, unknown>
export type ErrorEnvelope = {error: {message: string; type: string; param: string | null; code: string | null}}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly envelope: ErrorEnvelope,
  ) {
    super(envelope.error.message)
  }
}

export function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function envelope(message: string, type: string, param: string | null, code: string | null): ErrorEnvelope {
  return {error: {message, type, param, code}}
}

export function invalid(param: string | null, message: string, code: string | null = null, status = 400): HttpError {
  return new HttpError(status, envelope(message, 'invalid_request_error', param, code))
}

/** The default chat answer: `Hello from the fake upstream: <last user message content>` (+ ` (choice k)` for k > 0). */
export function defaultAnswer(body: Record<string, unknown>, choiceIndex: number): string {
  const messages = Array.isArray(body.messages) ? body.messages : []
  const lastUser = [...messages].reverse().find((m) => isRecord(m) && m.role === 'user')
  const text = isRecord(lastUser) ? contentText(lastUser.content) : ''
  return `Hello from the fake upstream: ${text}${choiceIndex > 0 ? ` (choice ${choiceIndex})` : ''}`
}

export function contentText(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .flatMap((part) => (isRecord(part) && part.type === 'text' && typeof part.text === 'string' ? [part.text] : []))
    .join(' ')
}

/** Whitespace-separated words as tokens: each carries the whitespace before it; concatenation gives back `text`. */
export function tokenize(text: string): string[] {
  const tokens: string[] = [...(text.match(/\s*\S+/g) ?? [])]
  const rest = text.slice(tokens.join('').length)
  if (rest !== '') {
    if (tokens.length > 0) tokens[tokens.length - 1] += rest
    else tokens.push(rest)
  }
  return tokens
}

export function countWords(text: string): number {
  return (text.match(/\S+/g) ?? []).length
}

// ---- request field readers (400 invalid_request_error naming the param) ----

export function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal'
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value}`
}

export function required(body: Json, param: string): unknown {
  const value = body[param]
  if (value === undefined || value === null)
    throw invalid(param, `Missing required parameter: '${param}'.`, 'missing_required_parameter')
  return value
}

export function wrongType(param: string, expected: string, value: unknown): HttpError {
  return invalid(
    param,
    `Invalid type for '${param}': expected ${expected}, but got ${typeName(value)} instead.`,
    'invalid_type',
  )
}

export function optionalInteger(body: Json, param: string, min: number, max: number): number | undefined {
  const value = body[param]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType(param, 'an integer', value)
  if (value < min)
    throw invalid(
      param,
      `Invalid '${param}': integer below minimum value. Expected a value >= ${min}, but got ${value} instead.`,
      'integer_below_min_value',
    )
  if (value > max)
    throw invalid(
      param,
      `Invalid '${param}': integer above maximum value. Expected a value <= ${max}, but got ${value} instead.`,
      'integer_above_max_value',
    )
  return value
}

export function optionalBoolean(body: Json, param: string): boolean | undefined {
  const value = body[param]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'boolean') throw wrongType(param, 'a boolean', value)
  return value
}

export function requiredString(body: Json, param: string): string {
  const value = required(body, param)
  if (typeof value !== 'string') throw wrongType(param, 'a string', value)
  if (value === '')
    throw invalid(
      param,
      `Invalid '${param}': empty string. Expected a string with minimum length 1, but got an empty string instead.`,
      'empty_string',
    )
  return value
}

/** The 400 OpenAI sends for a body that is not a JSON object. */
export function notJson(): HttpError {
  return invalid(
    null,
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
  )
}
