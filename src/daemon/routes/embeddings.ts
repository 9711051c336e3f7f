import {badRequest} from '../errors.js'
import {exchange, resolveModel} from '../exchange.js'
import {isObject, readJson} from '../http.js'
import type {RequestContext} from '../router.js'

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
  const body = await readJson(rc.req, rc.daemon.registry.settings.server.bodyLimitBytes)
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.')
  if (typeof body.model !== 'string' || body.model === '')
    throw badRequest('you must provide a model parameter', 'model')
  if (body.input === undefined || body.input === null || body.input === '')
    throw badRequest('`input` is required: a string, an array of strings, or token arrays.', 'input')
  if (body.encoding_format !== undefined && body.encoding_format !== 'float' && body.encoding_format !== 'base64')
    throw badRequest('`encoding_format` must be "float" or "base64".', 'encoding_format')
  await exchange(rc, {
    endpoint: 'embeddings',
    model: resolveModel(rc, body.model),
    native: body,
    pivots: [],
    stream: false,
    write({body: answer, text}, headers) {
      const data = (answer as {data?: Array<{embedding?: unknown}>}).data
      let out = text ?? JSON.stringify(answer)
      if (body.encoding_format === 'base64' && Array.isArray(data) && data.some((d) => Array.isArray(d?.embedding))) {
        for (const item of data)
          if (Array.isArray(item.embedding)) item.embedding = floatsToBase64(item.embedding as number[])
        out = JSON.stringify(answer)
      }

      rc.res.writeHead(200, {
        ...headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(out)),
      })
      rc.res.end(out)
    },
  })
}
