import {ApiError} from '../errors.js'
import {sendJson} from '../http.js'
import type {RequestContext} from '../router.js'
import type {DaemonState} from '../state.js'
import type {LiveUpstream} from '../registry.js'
import {adapterOf} from '../upstream/index.js'

type Model = {id: string; object: 'model'; created: number; owned_by: string}

const CACHE_MS = 10 * 60_000
const cache = new WeakMap<DaemonState, Map<string, {at: number; models: Model[]}>>()

/**
 * The union of what the pool can serve: each upstream's configured `models` (or, without
 * a list, what its own `GET /models` reports, cached for 10 minutes), its `modelMap` names,
 * tokens' `models`, and the aliases that lead to one of those.
 */
export async function modelList(rc: RequestContext): Promise<Model[]> {
  const {daemon} = rc
  const {registry} = daemon
  const created = Math.floor(daemon.startedAt / 1000)
  const byId = new Map<string, Model>()
  const add = (id: string, owner: string, model?: Model) =>
    byId.has(id) || byId.set(id, model ?? {id, object: 'model', created, owned_by: owner})
  for (const upstream of registry.upstreams) {
    const tokens = registry.tokens.filter((t) => t.upstream === upstream.name)
    if (tokens.length === 0) continue
    const restricted = tokens.every((t) => t.models)
    if (restricted) {
      for (const id of tokens.flatMap((t) => t.models ?? [])) add(id, upstream.name)
      continue
    }

    const listed = upstream.models ?? adapterOf(upstream).fixedModels ?? (await upstreamModels(rc, upstream))
    for (const model of listed) {
      if (typeof model === 'string') add(model, upstream.name)
      else add(model.id, upstream.name, model)
    }
    for (const id of Object.keys(upstream.modelMap ?? {})) add(id, upstream.name)
  }

  for (const [alias, target] of Object.entries(registry.settings.aliases)) if (byId.has(target)) add(alias, 'gptconv')
  return [...byId.values()]
}

async function upstreamModels(rc: RequestContext, upstream: LiveUpstream): Promise<Model[]> {
  const {daemon} = rc
  let perUpstream = cache.get(daemon)
  if (!perUpstream) cache.set(daemon, (perUpstream = new Map()))
  const hit = perUpstream.get(upstream.name)
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.models
  try {
    const result = await daemon.caller.answer({
      endpoint: 'models',
      model: '',
      native: {},
      stream: false,
      signal: rc.signal,
      upstream: upstream.name,
    })
    const json = result.mode === 'native' ? result.json : undefined
    const own = adapterOf(upstream).models?.(json)
    const data = own ? own.map((id) => ({id})) : (json as {data?: unknown} | undefined)?.data
    const models = Array.isArray(data)
      ? data
          .filter((m): m is Model => typeof (m as Model)?.id === 'string')
          .map((m) => ({
            id: m.id,
            object: 'model' as const,
            created: Number.isInteger(m.created) ? m.created : Math.floor(daemon.startedAt / 1000),
            owned_by: typeof m.owned_by === 'string' ? m.owned_by : upstream.name,
          }))
      : []
    perUpstream.set(upstream.name, {at: Date.now(), models})
    daemon.metrics.knowModels(models.map((m) => m.id))
    return models
  } catch (error) {
    rc.log.warn({upstream: upstream.name, err: (error as Error).message}, 'cannot list the models of an upstream')
    return (adapterOf(upstream).fallbackModels ?? []).map((id) => ({
      id,
      object: 'model' as const,
      created: Math.floor(daemon.startedAt / 1000),
      owned_by: upstream.name,
    }))
  }
}

/** Anthropic's clients (Claude Code, the SDKs) send `anthropic-version`, and read only Anthropic's shape of a model. */
const anthropicClient = (rc: RequestContext) => rc.req.headers['anthropic-version'] !== undefined

const anthropicModel = (m: Model) => ({
  type: 'model',
  id: m.id,
  display_name: m.id,
  created_at: new Date(m.created * 1000).toISOString(),
})

/** `GET /v1/models`: OpenAI's list, or Anthropic's for its clients. */
export async function listModels(rc: RequestContext): Promise<void> {
  const models = await modelList(rc)
  if (anthropicClient(rc)) {
    sendJson(
      rc.res,
      200,
      {
        data: models.map(anthropicModel),
        has_more: false,
        first_id: models[0]?.id ?? null,
        last_id: models.at(-1)?.id ?? null,
      },
      {'request-id': rc.requestId},
    )
    return
  }

  sendJson(rc.res, 200, {object: 'list', data: models}, {'x-request-id': rc.requestId})
}

/** `GET /v1/models/{model}` */
export async function getModel(rc: RequestContext): Promise<void> {
  const {id} = rc.params
  const model = (await modelList(rc)).find((m) => m.id === id)
  if (!model)
    throw new ApiError(404, 'model_not_found', `The model \`${id}\` does not exist or no token of gptconv serves it.`, {
      param: 'model',
    })
  sendJson(rc.res, 200, anthropicClient(rc) ? anthropicModel(model) : model, {'x-request-id': rc.requestId})
}

/** Forget cached upstream model lists (config changed). */
export function forgetModels(daemon: DaemonState): void {
  cache.delete(daemon)
}
