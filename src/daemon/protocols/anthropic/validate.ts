import {InvalidRequestError} from '../errors.js'

/**
 * Anthropic's error body has no `param` field: its messages start with the field's path
 * (`max_tokens: Field required`), which is what clients show. The errors here say the
 * path the same way and also carry it as `param`.
 */
export function invalid(param: string, reason: string): InvalidRequestError {
  return new InvalidRequestError(`${param}: ${reason}`, param)
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function optionalNumber(body: Record<string, unknown>, name: string): number | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(name, 'Input should be a valid number')
  return value
}

export function requiredString(value: unknown, param: string): string {
  if (value === undefined || value === null) throw invalid(param, 'Field required')
  if (typeof value !== 'string') throw invalid(param, 'Input should be a valid string')
  return value
}
