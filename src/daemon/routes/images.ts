import {badRequest} from '../errors.js'
import {exchange, resolveModel} from '../exchange.js'
import {isObject, readJson} from '../http.js'
import type {RequestContext} from '../router.js'

/** `POST /v1/images/generations`: passthrough to OpenAI-protocol upstreams (`model` defaults to dall-e-2, as OpenAI's does). */
export async function imageGenerations(rc: RequestContext): Promise<void> {
  const body = await readJson(rc.req, rc.daemon.registry.settings.server.bodyLimitBytes)
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.')
  if (typeof body.prompt !== 'string' || body.prompt === '') throw badRequest('`prompt` is required.', 'prompt')
  if (body.model !== undefined && (typeof body.model !== 'string' || body.model === ''))
    throw badRequest('`model` must be a model name.', 'model')
  await exchange(rc, {
    endpoint: 'images',
    model: resolveModel(rc, typeof body.model === 'string' ? body.model : 'dall-e-2'),
    native: body,
    pivots: [],
    stream: false,
  })
}
