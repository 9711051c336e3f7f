import type {SseEvent} from '../../sse.js'
import type {Relay, StreamDecoder, WireError} from '../codec.js'
import type {ChatChunk, ChatUsage} from '../chat/types.js'
import {UpstreamFormatError} from '../errors.js'

/**
 * The Codex backend's answer stream, made what a Responses client expects:
 * - its own frames (`codex.rate_limits`, `codex.response.metadata`) are read — the daemon
 *   records the plan's limits — and never passed on: the official SDK's stream helper
 *   throws on events it does not know;
 * - `response.completed` may carry an empty `output` (since ~2026-04): it is rebuilt from
 *   the `response.output_item.done` events;
 * - its usage lacks `input_tokens_details.cache_write_tokens`, which the public schema
 *   requires: completed with 0.
 */
export type FrameListener = (type: string, data: unknown) => void

type Json = Record<string, unknown>

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed'])

/** The event's type: its `event:` line, else the `type` in its data. */
function typeOf(event: SseEvent, parsed?: Json): string | undefined {
  return (
    event.event ??
    (typeof parsed?.type === 'string' ? parsed.type : /^\{\s*"type"\s*:\s*"([^"]+)"/.exec(event.data)?.[1])
  )
}

function parse(data: string): Json {
  try {
    const value = JSON.parse(data) as unknown
    if (typeof value === 'object' && value !== null) return value as Json
  } catch {
    // reported below
  }

  throw new UpstreamFormatError('The ChatGPT plan backend sent a stream event that is not JSON.')
}

/** A response object with its output rebuilt (when the backend left it empty) and its usage completed. */
export function completeResponse(response: Json, items: readonly Json[]): Json {
  const output = Array.isArray(response.output) && response.output.length > 0 ? response.output : [...items]
  const usage = response.usage as {input_tokens_details?: Json} | null | undefined
  const fixed =
    usage && typeof usage === 'object'
      ? {...usage, input_tokens_details: {cached_tokens: 0, cache_write_tokens: 0, ...usage.input_tokens_details}}
      : usage
  return {...response, output, ...(fixed !== undefined && {usage: fixed})}
}

/** Events as the backend sends them → events as a Responses client reads them. */
export class CodexEvents {
  readonly #items: Json[] = []

  constructor(private readonly onFrame: FrameListener) {}

  /** The final response, once a terminal event passed (its output rebuilt). */
  response: Json | undefined

  fix(events: readonly SseEvent[]): SseEvent[] {
    const out: SseEvent[] = []
    for (const event of events) {
      const type = typeOf(event)
      if (type?.startsWith('codex.')) {
        this.onFrame(type, parse(event.data))
        continue
      }

      if (type === 'response.output_item.done') {
        const item = parse(event.data).item
        if (typeof item === 'object' && item !== null) this.#items.push(item as Json)
      } else if (type !== undefined && TERMINAL.has(type)) {
        const data = parse(event.data)
        this.response = completeResponse((data.response as Json | undefined) ?? {}, this.#items)
        out.push({
          ...(event.event !== undefined && {event: event.event}),
          data: JSON.stringify({...data, response: this.response}),
        })
        continue
      } else if (type === 'response.created' || type === 'response.in_progress') {
        // the backend sends `usage: null` before there is any; the public API leaves it out
        const data = parse(event.data)
        const response = data.response as Json | undefined
        if (response?.usage === null) {
          const {usage: _usage, ...rest} = response
          out.push({
            ...(event.event !== undefined && {event: event.event}),
            data: JSON.stringify({...data, response: rest}),
          })
          continue
        }
      }

      out.push(event)
    }

    return out
  }
}

/** A Responses client's passthrough of the backend's stream. */
export class CodexRelay implements Relay {
  readonly #events: CodexEvents

  constructor(
    private readonly inner: Relay,
    onFrame: FrameListener,
  ) {
    this.#events = new CodexEvents(onFrame)
  }

  process(events: readonly SseEvent[]): string {
    return this.inner.process(this.#events.fix(events))
  }

  get finished(): boolean {
    return this.inner.finished
  }

  get usage(): ChatUsage | undefined {
    return this.inner.usage
  }

  end(): string {
    return this.inner.end()
  }

  text(): string {
    return this.inner.text()
  }

  fail(error: WireError): string {
    return this.inner.fail(error)
  }
}

/** For chat-pivot clients: the backend's frames read and dropped before the Responses decoder. */
export class CodexDecoder implements StreamDecoder {
  readonly #events: CodexEvents

  constructor(
    private readonly inner: StreamDecoder,
    onFrame: FrameListener,
  ) {
    this.#events = new CodexEvents(onFrame)
  }

  get done(): boolean {
    return this.inner.done
  }

  process(events: readonly SseEvent[]): ChatChunk[] {
    return this.inner.process(this.#events.fix(events))
  }

  finish(): ChatChunk[] {
    return this.inner.finish()
  }
}

/** A non-stream Responses client: the whole stream folded into the final response. */
export function foldCodexStream(events: readonly SseEvent[], onFrame: FrameListener): Json {
  const fixer = new CodexEvents(onFrame)
  fixer.fix(events)
  if (!fixer.response)
    throw new UpstreamFormatError('The ChatGPT plan backend ended its stream without a final response.')
  if (fixer.response.status === 'failed') {
    const error = fixer.response.error as {message?: unknown} | null
    throw new UpstreamFormatError(
      `The ChatGPT plan backend failed the response: ${typeof error?.message === 'string' ? error.message : 'no message'}`,
      'upstream_error',
    )
  }

  return fixer.response
}
