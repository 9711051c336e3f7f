import {badRequest} from '../errors.js'
import {isObject, readJson} from '../http.js'
import type {RequestContext} from '../router.js'
import {usageOf} from '../state.js'
import {noteServed} from './chat.js'

/** float32 little-endian, base64: what `encoding_format: "base64"` means on the wire. */
export function floatsToBase64(values: number[]): string {
  const buffer = Buffer.alloc(values.length * 4)
  for (let i = 0; i < values.length; i++) buffer.writeFloatLE(values[i], i * 4)
  return buffer.toString('base64')
}

/**
 * `POST /v1/embeddings`: passthrough. Modern SDKs ask for base64 (the npm package always
 * does); an upstream that ignores `encoding_format` and answers floats is converted, so
 * the client gets what it asked for.
 */
export async function embeddings(rc: RequestContext): Promise<void> {
  const {daemon} = rc
  const body = await readJson(rc.req, daemon.registry.settings.server.bodyLimitBytes)
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.')
  if (typeof body.model !== 'string' || body.model === '') throw badRequest('you must provide a model parameter', 'model')
  if (body.input === undefined || body.input === null || body.input === '') throw badRequest('`input` is required: a string, an array of strings, or token arrays.', 'input')
  if (body.encoding_format !== undefined && body.encoding_format !== 'float' && body.encoding_format !== 'base64') throw badRequest('`encoding_format` must be "float" or "base64".', 'encoding_format')
  const model = daemon.registry.resolveAlias(body.model)
  rc.meta.model = model
  daemon.registry.requireModel('embeddings', model)
  const startedMs = performance.now()
  const result = await daemon.caller.json({endpoint: 'embeddings', model, body, stream: false, signal: rc.signal})
  noteServed(rc, result)
  let text = result.text
  const data = (result.json as {data?: Array<{embedding?: unknown}>}).data
  if (body.encoding_format === 'base64' && Array.isArray(data) && data.some((d) => Array.isArray(d?.embedding))) {
    for (const item of data) if (Array.isArray(item.embedding)) item.embedding = floatsToBase64(item.embedding as number[])
    text = JSON.stringify(result.json)
  }

  const usage = usageOf(result.json)
  daemon.recordUsage(result, {endpoint: 'embeddings', model, usage: {prompt_tokens: usage?.prompt_tokens ?? 0, completion_tokens: 0, estimated: !usage}, status: 200, startedMs})
  rc.res.writeHead(200, {'x-request-id': rc.requestId, ...result.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text))})
  rc.res.end(text)
}
