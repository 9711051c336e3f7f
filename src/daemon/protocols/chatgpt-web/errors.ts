import {UpstreamStreamError} from '../errors.js'

/**
 * What can go wrong inside a ChatGPT web answer stream (HTTP 502 when it crosses the daemon's
 * boundary). `retryable` says whether another token may well succeed: the caller retries
 * only while nothing reached the client; after that the error ends the answer in-band.
 */
export class WebStreamError extends UpstreamStreamError {
  constructor(
    message: string,
    code: string,
    readonly retryable: boolean,
    /** the backend's own `error_code`, when it sent one */
    readonly upstreamCode: string | null = null,
  ) {
    super(message, code)
  }
}

/**
 * The stream ended without this turn's answer: the backend handed the answer over to a
 * websocket (`code` 'web_stream_handoff', also when the answer had begun but not finished),
 * or no assistant message of this turn came at all ('web_no_answer'). Always retryable.
 */
export class WebNoAnswerError extends WebStreamError {
  constructor(readonly handoff: boolean) {
    super(
      handoff
        ? 'The ChatGPT backend moved the answer to a websocket, which gptconv does not follow; the stream carried no complete answer.'
        : 'The ChatGPT backend stream ended without an answer to this turn.',
      handoff ? 'web_stream_handoff' : 'web_no_answer',
      true,
    )
  }
}

/** Request errors the backend may report in-band: another token would fail the same way. */
const NOT_RETRYABLE = new Set(['message_length_exceeds_limit', 'invalid_request', 'content_policy_violation'])

/**
 * The backend reported an error inside the stream (`{"message": null, "error": "…",
 * "error_code": "…"}`, also wrapped in `v`). Its message carries no secret and is passed on
 * as it is (shortened); `code` is 'web_upstream_error'.
 */
export class WebInBandError extends WebStreamError {
  constructor(error: unknown, errorCode: unknown) {
    const detail =
      typeof error === 'string'
        ? error
        : typeof (error as {message?: unknown})?.message === 'string'
          ? (error as {message: string}).message
          : JSON.stringify(error)
    const code =
      typeof errorCode === 'string' && errorCode !== ''
        ? errorCode
        : typeof (error as {code?: unknown})?.code === 'string'
          ? (error as {code: string}).code
          : null
    super(
      `The ChatGPT backend reported an error: ${detail.slice(0, 300)}${code ? ` (${code})` : ''}`,
      'web_upstream_error',
      code === null || !NOT_RETRYABLE.has(code),
      code,
    )
  }
}
