import {
  chatView,
  checkToolOutputs,
  type Item,
  itemText,
  itemTokens,
  newId,
  readInput,
} from './fake-openai-responses-input.js'
import {
  type Generated,
  responseObject,
  type ResponsesSseEvent,
  streamEvents,
  type Turn,
  type Usage,
} from './fake-openai-responses-output.js'
import {
  countWords,
  invalid,
  isRecord,
  type Json,
  notJson,
  optionalBoolean,
  optionalInteger,
  requiredString,
  tokenize,
  wrongType,
} from './fake-openai-shared.js'

export {type Item, transcript} from './fake-openai-responses-input.js'
export type {ResponsesSseEvent} from './fake-openai-responses-output.js'

/**
 * The Responses API of the fake OpenAI upstream, served as api.openai.com serves it:
 * `POST /v1/responses` (JSON or an `event:`-named SSE stream), and per API key — response ids
 * belong to the account that made them — `GET /v1/responses/{id}`, `GET …/{id}/input_items` and
 * `DELETE /v1/responses/{id}`. Stored unless `store: false`; `previous_response_id` puts the
 * previous response's input and output before the new input.
 *
 * The answer: a function call when the request offers function tools, `tool_choice` is not
 * `none` and the last input item is a user message saying `call NAME` (NAME one of the tools),
 * optionally `with {json}` (the arguments, verbatim; default `{}`); otherwise the fake's `answer`
 * option (default `Hello from the fake upstream: <last user text>`), called with a chat view of
 * what the model sees: `{...body, messages}`, instructions first as a developer message.
 *
 * Tokens are words: text is streamed one word per delta, arguments eight characters per delta,
 * each delta one output token. `input_tokens` counts the words of the instructions and of every
 * input item; `cached_tokens` those of the items carried over by `previous_response_id`.
 * `max_output_tokens` (any value >= 1; OpenAI's own minimum is 16) cuts the output: status
 * `incomplete`, `incomplete_details.reason: 'max_output_tokens'`.
 */

export type FakeResponsesOptions = {
  /** Reasoning tokens each response reports: in `output_tokens_details.reasoning_tokens`, `output_tokens` and the `max_output_tokens` budget. Default 0. */
  reasoningTokens?: number
  /** Input tokens each response reports written to the prompt cache (`cache_write_tokens`), at most those not read from it. Default 0. */
  cacheWriteTokens?: number
}

/** One response the fake made: which key asked, and what the model saw. */
export type ResponsesSeen = {
  key: string
  id: string
  model: string
  instructions: string | null
  previousResponseId: string | null
  /** In order: the previous response's input and output, then this request's input (string input as a user message, item references resolved). */
  input: Item[]
  store: boolean
  stream: boolean
}

/** One request, as the HTTP side of the fake hands it over; `json` and `stream` apply its faults. */
export type ResponsesExchange = {
  readonly method: string
  readonly pathname: string
  readonly query: URLSearchParams
  readonly key: string
  readonly body: unknown
  json(status: number, payload: unknown): Promise<void>
  stream(events: ResponsesSseEvent[]): Promise<void>
}

type Stored = {response: Json; input: Item[]}

const ROOT = '/v1/responses'

export class FakeResponses {
  readonly seen: ResponsesSeen[] = []
  readonly #options: FakeResponsesOptions
  readonly #answer: (body: Json) => string
  /** key → response id → response */
  readonly #stored = new Map<string, Map<string, Stored>>()

  constructor(options: FakeResponsesOptions, answer: (body: Json) => string) {
    this.#options = options
    this.#answer = answer
  }

  serves(pathname: string): boolean {
    return pathname === ROOT || pathname.startsWith(`${ROOT}/`)
  }

  /** The key that made response `id`, if the fake still stores it. */
  ownerOf(id: string): string | undefined {
    for (const [key, responses] of this.#stored) if (responses.has(id)) return key
    return undefined
  }

  async handle(x: ResponsesExchange): Promise<void> {
    const rest = x.pathname.slice(ROOT.length)
    if (x.method === 'POST' && rest === '') return this.#create(x)
    const match = /^\/([^/]+)(\/input_items)?$/.exec(rest)
    if (match) {
      const id = decodeURIComponent(match[1])
      if (x.method === 'GET' && match[2] === undefined) return x.json(200, this.#find(x.key, id).response)
      if (x.method === 'GET') return x.json(200, list(this.#find(x.key, id).input, x.query))
      if (x.method === 'DELETE' && match[2] === undefined) {
        this.#find(x.key, id)
        this.#stored.get(x.key)?.delete(id)
        return x.json(200, {id, object: 'response.deleted', deleted: true})
      }
    }
    throw invalid(null, `Invalid URL (${x.method} ${x.pathname})`, null, 404)
  }

  #find(key: string, id: string): Stored {
    const found = this.#stored.get(key)?.get(id)
    if (!found) throw invalid(null, `Response with id '${id}' not found.`, null, 404)
    return found
  }

  async #create(x: ResponsesExchange): Promise<void> {
    if (!isRecord(x.body)) throw notJson()
    const body = x.body
    const model = requiredString(body, 'model')
    const stream = optionalBoolean(body, 'stream') ?? false
    const input = this.#input(x.key, body)
    const turn = this.#turn(body, model, input)
    const response = responseObject(turn, true)
    if (turn.store) {
      const mine = this.#stored.get(x.key) ?? new Map<string, Stored>()
      mine.set(turn.id, {response, input: input.all})
      this.#stored.set(x.key, mine)
    }
    this.seen.push({
      key: x.key,
      id: turn.id,
      model: turn.model,
      instructions: turn.instructions,
      previousResponseId: turn.previousResponseId,
      input: input.all,
      store: turn.store,
      stream,
    })
    if (stream) await x.stream(streamEvents(turn))
    else await x.json(200, response)
  }

  /** The previous response's input and output (400 if this key has no such response), then the request's input. */
  #input(key: string, body: Json): {all: Item[]; carried: Item[]} {
    const previousId = body.previous_response_id
    let carried: Item[] = []
    if (previousId !== undefined && previousId !== null) {
      if (typeof previousId !== 'string') throw wrongType('previous_response_id', 'a string', previousId)
      const previous = this.#stored.get(key)?.get(previousId)
      if (!previous)
        throw invalid(
          'previous_response_id',
          `Previous response with id '${previousId}' not found.`,
          'previous_response_not_found',
        )
      carried = structuredClone([...previous.input, ...(previous.response.output as Item[])])
    }
    const all = [...carried, ...readInput(body.input, (id) => this.#item(key, id))]
    if (all.length === 0) throw invalid('input', "Missing required parameter: 'input'.", 'missing_required_parameter')
    checkToolOutputs(all)
    return {all, carried}
  }

  /** An item of a response this key stored, for `item_reference`. */
  #item(key: string, id: string): Item | undefined {
    for (const stored of this.#stored.get(key)?.values() ?? []) {
      const found = [...stored.input, ...(stored.response.output as Item[])].find((it) => it.id === id)
      if (found) return structuredClone(found)
    }
    return undefined
  }

  #turn(body: Json, model: string, {all, carried}: {all: Item[]; carried: Item[]}): Turn {
    const store = optionalBoolean(body, 'store') ?? true
    const maxTokens = optionalInteger(body, 'max_output_tokens', 1, Number.MAX_SAFE_INTEGER)
    const instructions = body.instructions ?? null
    if (instructions !== null && typeof instructions !== 'string')
      throw wrongType('instructions', 'a string', instructions)
    const reasoning = this.#options.reasoningTokens ?? 0
    const generated = this.#generate(
      body,
      instructions,
      all,
      maxTokens === undefined ? undefined : Math.max(0, maxTokens - reasoning),
    )
    const input = countWords(instructions ?? '') + itemTokens(all)
    const cached = itemTokens(carried)
    const usage: Usage = {
      input,
      cached,
      cacheWrite: Math.min(this.#options.cacheWriteTokens ?? 0, input - cached),
      output: generated.pieces.length + reasoning,
      reasoning,
    }
    const previousResponseId = typeof body.previous_response_id === 'string' ? body.previous_response_id : null
    return {
      id: newId('resp'),
      createdAt: Math.floor(Date.now() / 1000),
      model,
      body,
      instructions,
      previousResponseId,
      store,
      generated,
      usage,
    }
  }

  #generate(body: Json, instructions: string | null, input: Item[], budget: number | undefined): Generated {
    const call = requestedCall(body, input)
    const pieces = call
      ? (call.arguments.match(/[\s\S]{1,8}/g) ?? [])
      : tokenize(this.#answer({...body, messages: chatView(instructions, input)}))
    const truncated = budget !== undefined && pieces.length > budget
    const kept = truncated ? pieces.slice(0, budget) : pieces
    if (call)
      return {
        kind: 'call',
        id: newId('fc'),
        callId: newId('call').slice(0, 29),
        name: call.name,
        pieces: kept,
        truncated,
      }
    return {kind: 'text', id: newId('msg'), pieces: kept, truncated}
  }
}

/** `call NAME [with {json}]` in the last input item, a user message, naming one of the request's function tools. */
function requestedCall(body: Json, input: Item[]): {name: string; arguments: string} | undefined {
  if (body.tool_choice === 'none' || !Array.isArray(body.tools)) return undefined
  const names = body.tools.flatMap((t) =>
    isRecord(t) && t.type === 'function' && typeof t.name === 'string' ? [t.name] : [],
  )
  const last = input.at(-1)
  if (!last || last.type !== 'message' || last.role !== 'user') return undefined
  const match = /\bcall ([A-Za-z0-9_-]+)(?:\s+with\s+(\{[\s\S]*\}))?/.exec(itemText(last))
  if (!match || !names.includes(match[1])) return undefined
  return {name: match[1], arguments: match[2] ?? '{}'}
}

/** `GET …/input_items`: `limit` 1-100 (default 20), `order` `desc` (default, newest first) or `asc`, `after` an item id (unknown: empty page). */
function list(items: Item[], query: URLSearchParams): Json {
  const limitText = query.get('limit')
  const limitValue = limitText === null ? undefined : Number(limitText)
  if (limitValue !== undefined && !Number.isInteger(limitValue)) throw wrongType('limit', 'an integer', limitText)
  const limit = optionalInteger({limit: limitValue}, 'limit', 1, 100) ?? 20
  const order = query.get('order') ?? 'desc'
  if (order !== 'asc' && order !== 'desc')
    throw invalid('order', `Invalid value: '${order}'. Supported values are: 'asc' and 'desc'.`, 'invalid_value')
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
