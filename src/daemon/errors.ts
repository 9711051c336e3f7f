import {GptconvError} from '../core/errors.js'
import type {WireError} from './protocols/codec.js'

/**
 * Errors that cross the HTTP boundary, with the OpenAI `type` and `code` a client sees.
 * `toOpenAIError` is the only place that shapes an error body; every route throws.
 */
export class ApiError extends GptconvError {
  constructor(
    status: number,
    code: string,
    message: string,
    options: {type?: string; param?: string | null; headers?: Record<string, string>} = {},
  ) {
    super(code, message, {status, type: options.type, param: options.param ?? null, headers: options.headers})
  }
}

export const badRequest = (message: string, param: string | null = null, code = 'invalid_request') =>
  new ApiError(400, code, message, {param})

export type OpenAIErrorBody = {error: {message: string; type: string; param: string | null; code: string | null}}

export type ErrorResponse = {status: number; headers: Record<string, string>; body: OpenAIErrorBody}

/** Map anything thrown inside the daemon to the OpenAI error envelope. Unknown errors say nothing internal. */
export function toOpenAIError(err: unknown): ErrorResponse {
  if (err instanceof GptconvError) {
    const code = /^GPTCONV_/.test(err.code) ? err.code.slice(8).toLowerCase() : err.code
    return {
      status: err.status,
      headers: {...err.headers},
      body: {error: {message: err.message, type: err.type, param: err.param, code}},
    }
  }

  return {
    status: 500,
    headers: {},
    body: {
      error: {
        message: 'Internal error in gptconv; see `gptconv logs`.',
        type: 'server_error',
        param: null,
        code: 'internal_error',
      },
    },
  }
}

/** An error as a stream that has begun carries it in-band. */
export function toWireError(err: unknown): WireError {
  const {status, body} = toOpenAIError(err)
  return {status, ...body.error}
}
