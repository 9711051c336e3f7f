import type {AnthropicErrorBody, AnthropicErrorType} from './types.js'

/**
 * HTTP status → Anthropic's error `type` (the `ErrorType` union of @anthropic-ai/sdk; 413 is
 * `request_too_large` in Anthropic's error documentation). 502 is `api_error`: the upstream
 * answered with something broken, retrying may or may not help. 503 and 529 are
 * `overloaded_error`: the service is busy and a retry later is the right move, which is what
 * Anthropic clients do on that type. Other 4xx are `invalid_request_error`, other 5xx `api_error`.
 */
export function anthropicErrorType(status: number): AnthropicErrorType {
  switch (status) {
    case 400: {
      return 'invalid_request_error'
    }

    case 401: {
      return 'authentication_error'
    }

    case 402: {
      return 'billing_error'
    }

    case 403: {
      return 'permission_error'
    }

    case 404: {
      return 'not_found_error'
    }

    case 408:
    case 504: {
      return 'timeout_error'
    }

    case 409: {
      return 'conflict_error'
    }

    case 413: {
      return 'request_too_large'
    }

    case 429: {
      return 'rate_limit_error'
    }

    case 503:
    case 529: {
      return 'overloaded_error'
    }

    default: {
      return status >= 400 && status < 500 ? 'invalid_request_error' : 'api_error'
    }
  }
}

/** The error body Anthropic clients read: `{type: 'error', error: {type, message}}`. */
export function anthropicErrorBody(status: number, message: string): AnthropicErrorBody {
  return {type: 'error', error: {type: anthropicErrorType(status), message}}
}
