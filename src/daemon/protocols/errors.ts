import {GptconvError} from '../../core/errors.js'

/**
 * The errors a converter may throw. Converters never shape an HTTP answer: the daemon's one
 * error boundary (server.ts) turns these — like every other GptconvError — into the envelope
 * of the client's wire format.
 */

/** The client's request cannot be served as asked: HTTP 400, naming the parameter. */
export class InvalidRequestError extends GptconvError {
  constructor(message: string, param: string | null = null, code = 'invalid_request') {
    super(code, message, {status: 400, type: 'invalid_request_error', param})
  }
}

/** What an upstream sent cannot be understood (not JSON, not the expected shape): HTTP 502. */
export class UpstreamFormatError extends GptconvError {
  constructor(message: string, code = 'upstream_error') {
    super(code, message, {status: 502, type: 'server_error'})
  }
}

/** The upstream reported an error inside its answer stream: HTTP 502 (in-band once the answer began). */
export class UpstreamStreamError extends GptconvError {
  constructor(message: string, code = 'upstream_stream_error', status = 502) {
    super(code, message, {status, type: status === 429 ? 'rate_limit_error' : 'server_error'})
  }
}
