import type {ServerResponse} from 'node:http'
import {setTimeout as sleep} from 'node:timers/promises'

import {type Ask, readChoice, reply} from './answer.js'
import {type Body, DemoError, jsonPieces, newId, send, startSse, wordPieces} from './http.js'
import {requireModel} from './models.js'
import {conversation, inputTokens, type Item, readFormat, readInput, readTools} from './responses-input.js'
import {type OutItem, responseObject, streamEvents, type Turn} from './responses-output.js'

/**
 * The Responses API of the demo upstream, served natively: `POST /v1/responses` (JSON, or an
 * SSE stream with `event:` lines), and for what it stored (`store` defaults to true)
 * `GET /v1/responses/{id}`, `GET …/{id}/input_items` and `DELETE /v1/responses/{id}`.
 * `previous_response_id` puts the previous response's input and output before the new
 * input. Answers follow the same rules as the demo's chat (see answer.ts); `max_output_tokens`
 * cuts text (counted in words) and leaves the response `incomplete`.
 */

type Stored = {response: Body; input: Item[]}

/** The most responses kept; the oldest go first. */
const MAX_STORED = 500

const notFound = (id: string) => new DemoError(404, `Response with id '${id}' not found.`, 'response_id', 'not_found')

export class DemoResponses {
  readonly #stored = new Map<string, Stored>()

  /** `rest`: the path after `/v1/responses`. */
  async handle(
    method: string,
    rest: string,
    query: URLSearchParams,
    body: Body | undefined,
    res: ServerResponse,
  ): Promise<void> {
    if (method === 'POST' && rest === '' && body) return this.#create(body, res)
    const match = /^\/([^/]+)(\/input_items)?$/.exec(rest)
    if (match) {
      const id = decodeURIComponent(match[1])
      const found = this.#stored.get(id)
      if (!found) throw notFound(id)
      if (method === 'GET') return send(res, 200, match[2] ? page(found.input, query) : found.response)
      if (method === 'DELETE' && !match[2]) {
        this.#stored.delete(id)
        return send(res, 200, {id, object: 'response.deleted', deleted: true})
      }
    }

    throw new DemoError(404, `Invalid URL (${method} /v1/responses${rest})`, null, 'unknown_url')
  }

  async #create(body: Body, res: ServerResponse): Promise<void> {
    const model = requireModel('chat', body.model)
    const input = this.#inputOf(body)
    const turn = turnOf(body, model, input)
    const response = responseObject(turn, true)
    if (turn.store) {
      this.#stored.set(turn.id, {response, input})
      if (this.#stored.size > MAX_STORED) this.#stored.delete(this.#stored.keys().next().value!)
    }

    if (body.stream !== true) return send(res, 200, response)
    startSse(res)
    for (const event of streamEvents(turn)) {
      if (event.type.endsWith('.delta')) await sleep(15)
      if (res.destroyed) return
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
    }

    res.end()
  }

  /** The previous response's input and output (400 when the demo has no such response), then the request's input. */
  #inputOf(body: Body): Item[] {
    const previousId = body.previous_response_id
    let carried: Item[] = []
    if (previousId !== undefined && previousId !== null) {
      const previous = typeof previousId === 'string' ? this.#stored.get(previousId) : undefined
      if (!previous)
        throw new DemoError(
          400,
          `Previous response with id '${String(previousId)}' not found.`,
          'previous_response_id',
          'previous_response_not_found',
        )
      carried = structuredClone([...previous.input, ...(previous.response.output as Item[])])
    }

    const all = [...carried, ...readInput(body.input, (id) => this.#item(id))]
    if (all.length === 0)
      throw new DemoError(400, "Missing required parameter: 'input'.", 'input', 'missing_required_parameter')
    return all
  }

  /** An item of a stored response, for `item_reference`. */
  #item(id: string): Item | undefined {
    for (const stored of this.#stored.values()) {
      const found = [...stored.input, ...(stored.response.output as Item[])].find((it) => it.id === id)
      if (found) return structuredClone(found)
    }

    return undefined
  }
}

/** What the model makes of the request: its output items and usage. */
function turnOf(body: Body, model: string, input: Item[]): Turn {
  const instructions = typeof body.instructions === 'string' ? body.instructions : null
  const tools = readTools(body.tools)
  const ask: Ask = {
    model,
    tools,
    choice: readChoice(body.tool_choice, tools),
    parallel: body.parallel_tool_calls !== false,
    format: readFormat(body.text),
    ...conversation(input),
  }
  const r = reply(ask)
  let items: OutItem[]
  let truncated = false
  if (r.kind === 'calls')
    items = r.calls.map((c) => ({
      type: 'function_call',
      id: newId('fc', 24),
      callId: newId('call'),
      name: c.name,
      pieces: jsonPieces(c.arguments),
    }))
  else {
    let pieces = (r.json ? jsonPieces : wordPieces)(r.text)
    const limit = body.max_output_tokens
    if (typeof limit === 'number' && Number.isInteger(limit) && limit >= 0 && pieces.length > limit) {
      pieces = pieces.slice(0, limit)
      truncated = true
    }

    items = [{type: 'message', id: newId('msg', 24), pieces}]
  }

  const output = items.reduce((sum, it) => sum + it.pieces.length, 0)
  const previousResponseId = typeof body.previous_response_id === 'string' ? body.previous_response_id : null
  return {
    id: newId('resp', 24),
    createdAt: Math.floor(Date.now() / 1000),
    model,
    body,
    instructions,
    previousResponseId,
    store: body.store !== false,
    items,
    truncated,
    usage: {input: inputTokens(instructions, input), output},
  }
}

/** `GET …/input_items`: `limit` 1-100 (default 20), `order` `desc` (default, newest first) or `asc`, `after` an item id. */
function page(items: Item[], query: URLSearchParams): Body {
  const limit = Number(query.get('limit') ?? 20)
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw new DemoError(400, "Invalid 'limit': expected an integer from 1 to 100.", 'limit', 'invalid_value')
  const order = query.get('order') ?? 'desc'
  if (order !== 'asc' && order !== 'desc')
    throw new DemoError(
      400,
      `Invalid value: '${order}'. Supported values are: 'asc' and 'desc'.`,
      'order',
      'invalid_value',
    )
  let ordered = order === 'desc' ? [...items].reverse() : [...items]
  const after = query.get('after')
  if (after !== null) {
    const at = ordered.findIndex((it) => it.id === after)
    ordered = at === -1 ? [] : ordered.slice(at + 1)
  }

  const data = ordered.slice(0, limit)
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: ordered.length > limit,
  }
}

export const isResponsesPath = (path: string) => path === '/v1/responses' || path.startsWith('/v1/responses/')
