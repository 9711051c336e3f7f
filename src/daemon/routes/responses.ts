import {ApiError, badRequest} from '../errors.js'
import {type ExchangeSpec, exchange, exchangeInSession, resolveModel} from '../exchange.js'
import {isObject, readJson, sendJson, sessionHeader} from '../http.js'
import {ResponsesEncoder} from '../protocols/responses/encoder.js'
import {ResponsesRelay} from '../protocols/responses/relay.js'
import {decodeResponsesRequest} from '../protocols/responses/request.js'
import {chatCompletionToResponse} from '../protocols/responses/response.js'
import type {InputItem, OutputItem, ResponsesHistory} from '../protocols/responses/types.js'
import {ResponseStore, type StoredResponse} from '../responses-store.js'
import {adapterOf} from '../upstream/index.js'
import type {RequestContext} from '../router.js'

type Item = Record<string, unknown>

/**
 * `POST /v1/responses`. On upstreams that serve the Responses API themselves the request
 * goes on as it came; on every other upstream it is bridged through chat. Responses the
 * daemon bridged are stored (unless `store: false`) so `previous_response_id`, retrieve,
 * input items and delete work on any upstream; for passed-through ones the daemon notes
 * which token made them, because their ids belong to that account.
 */
export async function createResponse(rc: RequestContext): Promise<void> {
  const {daemon} = rc
  const body = await readJson(rc.req, daemon.registry.settings.server.bodyLimitBytes)
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.')
  if (typeof body.model !== 'string' || body.model === '')
    throw badRequest('Missing required parameter: `model`.', 'model', 'missing_required_parameter')
  const owner = ResponseStore.owner(daemon.clientKey)
  const previousId = typeof body.previous_response_id === 'string' ? body.previous_response_id : undefined
  const previous = previousId === undefined ? undefined : await daemon.responses.get(owner, previousId)
  const model = resolveModel(rc, body.model)
  let relay: ResponsesRelay | undefined
  const nativeRelay = () => (relay = new ResponsesRelay())
  const stream = body.stream === true

  if (previous?.token !== undefined || (previousId !== undefined && !previous && someNative(rc, model))) {
    // made by an upstream that keeps its own responses: only the token that made it knows the id
    if (previous?.token !== undefined && !daemon.registry.token(previous.token)) {
      throw badRequest(
        `The previous response was made with the token "${previous.token}", which gptconv no longer has.`,
        'previous_response_id',
        'previous_response_not_found',
      )
    }

    const result = await exchange(rc, {
      endpoint: 'responses',
      model,
      native: body,
      relay: nativeRelay,
      pivots: [],
      stream,
      token: previous?.token,
    })
    await remember(rc, owner, result.served?.token.label, result.body, relay)
    return
  }

  const plan = decodeResponsesRequest(body, await historyFor(rc, owner, body, previous))
  const encoder = plan.stream ? new ResponsesEncoder(plan) : undefined
  // a request that leans on what the daemon stored goes to an upstream whole: its resolved input, without the daemon's ids
  const local = previous !== undefined || hasReferences(body.input)
  const spec: ExchangeSpec = {
    endpoint: 'responses',
    model,
    native: local ? standalone(body, plan.input) : body,
    relay: nativeRelay,
    pivots: [plan.chat],
    stream: plan.stream,
    encoder,
    answer: ([chat]) => ({body: chatCompletionToResponse(chat, plan)}),
  }
  const sessionId = sessionHeader(rc.req)
  if (sessionId !== undefined) rc.res.setHeader('x-session-id', sessionId)
  const maxTokens = typeof body.max_output_tokens === 'number' ? body.max_output_tokens : undefined
  const result =
    sessionId === undefined ? await exchange(rc, spec) : await exchangeInSession(rc, sessionId, spec, maxTokens)
  if (result.mode === 'native' && result.served && adapterOf(result.served.upstream).keepsResponses) {
    await remember(rc, owner, result.served.token.label, result.body, relay)
    return
  }

  // bridged, or passed to an upstream that keeps nothing: the daemon stores it
  const response = (
    result.mode === 'native' ? (relay?.completed ?? result.body) : encoder ? encoder.response : result.body
  ) as Item | undefined
  if (plan.store && response && typeof response.id === 'string') {
    await daemon.responses.put(owner, {
      id: response.id,
      createdAt: Date.now(),
      response,
      input: plan.input as unknown as Item[],
    })
  }
}

/** Whether some token's upstream serves Responses itself (an id the daemon does not know may be its). */
function someNative(rc: RequestContext, model: string): boolean {
  return rc.daemon.registry.tokens.some(rc.daemon.registry.filterFor('responses', model, {native: true}))
}

/** A passed-through response: which token made it, so a later call naming its id goes there. */
async function remember(
  rc: RequestContext,
  owner: string,
  token: string | undefined,
  body: unknown,
  relay: ResponsesRelay | undefined,
): Promise<void> {
  const id = relay?.id ?? (isObject(body) && typeof body.id === 'string' ? body.id : undefined)
  if (id !== undefined && token !== undefined) await rc.daemon.responses.put(owner, {id, createdAt: Date.now(), token})
}

/** A request with everything the daemon resolved in its input: no previous response, no references, none of the daemon's ids. */
function standalone(body: Item, input: readonly unknown[]): Item {
  const {previous_response_id: _previous, ...rest} = body
  return {
    ...rest,
    input: input.map((item) =>
      isObject(item) ? Object.fromEntries(Object.entries(item).filter(([k]) => k !== 'id')) : item,
    ),
  }
}

/** Whether any input item is an `item_reference`. */
function hasReferences(input: unknown): boolean {
  return Array.isArray(input) && input.some((item) => isObject(item) && item.type === 'item_reference')
}

/** What the decoder may look up: the previous response (loaded already) and the items the input refers to. */
async function historyFor(
  rc: RequestContext,
  owner: string,
  body: Item,
  previous: StoredResponse | undefined,
): Promise<ResponsesHistory> {
  const chain = [...(previous?.input ?? []), ...((previous?.response?.output as Item[] | undefined) ?? [])]
  const items = new Map<string, Item>()
  for (const item of Array.isArray(body.input) ? body.input : []) {
    if (!isObject(item) || item.type !== 'item_reference' || typeof item.id !== 'string' || items.has(item.id)) continue
    const found = chain.find((c) => c.id === item.id) ?? (await rc.daemon.responses.findItem(owner, item.id))
    if (found) items.set(item.id, found)
  }

  return {
    response: (id) =>
      previous?.response && id === previous.id
        ? {
            input: (previous.input ?? []) as unknown as InputItem[],
            output: (previous.response.output ?? []) as OutputItem[],
          }
        : undefined,
    item: (id) => items.get(id) as InputItem | undefined,
  }
}

/** A stored response of this client, or a 404 as OpenAI answers it. */
async function stored(rc: RequestContext): Promise<StoredResponse> {
  const {id} = rc.params
  const record = await rc.daemon.responses.get(ResponseStore.owner(rc.daemon.clientKey), id)
  if (!record)
    throw new ApiError(404, 'response_not_found', `Response with id '${id}' not found.`, {param: 'response_id'})
  return record
}

/** Reads and deletions of a response an upstream keeps go to the token that made it. */
async function forward(
  rc: RequestContext,
  record: StoredResponse,
  method: 'GET' | 'DELETE',
  path: string,
): Promise<number> {
  const result = await rc.daemon.caller.answer({
    endpoint: 'responses',
    model: '',
    native: {},
    stream: false,
    signal: rc.signal,
    token: record.token,
    method,
    path,
  })
  const text = result.mode === 'native' ? result.text : JSON.stringify(result.chat)
  rc.res.writeHead(result.status, {
    'x-request-id': rc.requestId,
    ...result.headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  })
  rc.res.end(text)
  return result.status
}

/** `GET /v1/responses/{id}` */
export async function getResponse(rc: RequestContext): Promise<void> {
  const record = await stored(rc)
  if (record.token !== undefined) await forward(rc, record, 'GET', `/${encodeURIComponent(record.id)}`)
  else sendJson(rc.res, 200, record.response, {'x-request-id': rc.requestId})
}

/** `DELETE /v1/responses/{id}` */
export async function deleteResponse(rc: RequestContext): Promise<void> {
  const record = await stored(rc)
  const owner = ResponseStore.owner(rc.daemon.clientKey)
  if (record.token !== undefined) {
    if ((await forward(rc, record, 'DELETE', `/${encodeURIComponent(record.id)}`)) < 300)
      await rc.daemon.responses.delete(owner, record.id)
    return
  }

  await rc.daemon.responses.delete(owner, record.id)
  sendJson(rc.res, 200, {id: record.id, object: 'response.deleted', deleted: true}, {'x-request-id': rc.requestId})
}

/** `GET /v1/responses/{id}/input_items?limit&order&after`: the input the response was made from, newest first by default. */
export async function listInputItems(rc: RequestContext): Promise<void> {
  const record = await stored(rc)
  if (record.token !== undefined) {
    await forward(
      rc,
      record,
      'GET',
      `/${encodeURIComponent(record.id)}/input_items${rc.query.size > 0 ? `?${rc.query}` : ''}`,
    )
    return
  }

  const limit = Number(rc.query.get('limit') ?? 20)
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw badRequest('`limit` must be an integer from 1 to 100.', 'limit')
  const order = rc.query.get('order') ?? 'desc'
  if (order !== 'asc' && order !== 'desc') throw badRequest('`order` must be "asc" or "desc".', 'order')
  let items = [...(record.input ?? [])]
  if (order === 'desc') items.reverse()
  const after = rc.query.get('after')
  if (after !== null) {
    const at = items.findIndex((item) => item.id === after)
    if (at === -1) throw badRequest(`No input item with id '${after}'.`, 'after')
    items = items.slice(at + 1)
  }

  const page = items.slice(0, limit)
  sendJson(
    rc.res,
    200,
    {
      object: 'list',
      data: page,
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
      has_more: items.length > limit,
    },
    {'x-request-id': rc.requestId},
  )
}
