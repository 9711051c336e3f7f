import {badRequest} from '../errors.js'
import {isObject, readJson} from '../http.js'
import type {RequestContext} from '../router.js'
import {usageOf} from '../state.js'
import {noteServed} from './chat.js'

/** `POST /v1/images/generations`: passthrough to OpenAI-protocol upstreams (`model` defaults to dall-e-2, as OpenAI's does). */
export async function imageGenerations(rc: RequestContext): Promise<void> {
  const {daemon} = rc
  const body = await readJson(rc.req, daemon.registry.settings.server.bodyLimitBytes)
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.')
  if (typeof body.prompt !== 'string' || body.prompt === '') throw badRequest('`prompt` is required.', 'prompt')
  if (body.model !== undefined && (typeof body.model !== 'string' || body.model === '')) throw badRequest('`model` must be a model name.', 'model')
  const model = daemon.registry.resolveAlias(typeof body.model === 'string' ? body.model : 'dall-e-2')
  rc.meta.model = model
  daemon.registry.requireModel('images', model)
  const startedMs = performance.now()
  const result = await daemon.caller.json({endpoint: 'images', model, body, stream: false, signal: rc.signal})
  noteServed(rc, result)
  const usage = usageOf(result.json) ?? (result.json as {usage?: {input_tokens?: number; output_tokens?: number}}).usage
  const tokens = usage && 'input_tokens' in usage ? {prompt_tokens: usage.input_tokens ?? 0, completion_tokens: usage.output_tokens ?? 0} : (usage as {prompt_tokens: number; completion_tokens: number} | undefined)
  daemon.recordUsage(result, {endpoint: 'images', model, usage: {prompt_tokens: tokens?.prompt_tokens ?? 0, completion_tokens: tokens?.completion_tokens ?? 0, estimated: !tokens}, status: 200, startedMs})
  rc.res.writeHead(200, {'x-request-id': rc.requestId, ...result.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(result.text))})
  rc.res.end(result.text)
}
