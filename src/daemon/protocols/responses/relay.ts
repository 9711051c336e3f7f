import {type SseEvent, formatSseEvent} from '../../sse.js'
import type {Relay, WireError} from '../codec.js'
import type {ChatUsage} from '../chat/types.js'
import {readUsage} from '../usage.js'

/** The events that end a Responses stream; they carry the whole response, usage included. */
const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed'])

/**
 * Passthrough of a Responses stream to a Responses client (an upstream that serves the API
 * itself): every event goes on as it came, `event:` line and all. Only two kinds are read:
 * `response.created`, for the response's id and shape (an in-band failure needs them), and
 * the terminal event, for the usage.
 */
export class ResponsesRelay implements Relay {
  usage: ChatUsage | undefined
  finished = false
  /** the response as `response.created` announced it */
  created: Record<string, unknown> | undefined
  /** the whole response, as the terminal event gave it */
  completed: Record<string, unknown> | undefined
  #sequence = -1

  process(events: readonly SseEvent[]): string {
    let out = ''
    for (const event of events) {
      const type = event.event ?? typeOf(event.data)
      if (type === 'response.created' || TERMINAL.has(type ?? '')) this.#read(type!, event.data)
      const seq = /"sequence_number":(\d+)/.exec(event.data)
      if (seq) this.#sequence = Number(seq[1])
      out += formatSseEvent(type, event.data)
    }

    return out
  }

  /** A Responses stream has no end marker of its own. */
  end(): string {
    return ''
  }

  text(): string {
    return ''
  }

  get id(): string | undefined {
    return typeof this.created?.id === 'string' ? this.created.id : undefined
  }

  fail(error: WireError): string {
    const response = {
      ...this.created,
      status: 'failed',
      error: {code: error.code ?? 'server_error', message: error.message},
    }
    return formatSseEvent(
      'response.failed',
      JSON.stringify({type: 'response.failed', sequence_number: this.#sequence + 1, response}),
    )
  }

  #read(type: string, data: string): void {
    let parsed: {response?: Record<string, unknown>}
    try {
      parsed = JSON.parse(data) as typeof parsed
    } catch {
      return
    }

    if (type === 'response.created') this.created = parsed.response
    else {
      this.finished = true
      this.completed = parsed.response
      this.usage = readUsage(parsed.response?.usage)
    }
  }
}

/** The `type` of an event sent without an `event:` line. */
function typeOf(data: string): string | undefined {
  return /^\{\s*"type"\s*:\s*"([^"]+)"/.exec(data)?.[1]
}
