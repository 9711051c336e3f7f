import {createHash} from 'node:crypto'
import type {ServerResponse} from 'node:http'

import {type Body, countWords, send} from './http.js'
import {requireModel} from './models.js'

/** `POST /v1/embeddings` and `POST /v1/images/generations` of the demo upstream. */

/** A 1×1 transparent PNG. */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='

/** A vector derived from the input's hash: the same input always gets the same vector. */
function embedding(input: unknown, dimensions: number): number[] {
  const digest = createHash('sha256').update(JSON.stringify(input)).digest()
  return Array.from({length: dimensions}, (_, i) => Math.round(((digest[i % digest.length] / 255) * 2 - 1) * 1e6) / 1e6)
}

export function embeddings(body: Body, res: ServerResponse): void {
  requireModel('embeddings', body.model)
  const inputs =
    Array.isArray(body.input) && (body.input.length === 0 || typeof body.input[0] !== 'number')
      ? body.input
      : [body.input]
  const dimensions = Number.isInteger(body.dimensions) ? Number(body.dimensions) : 16
  const data = inputs.map((input, index) => {
    const vector = embedding(input, dimensions)
    const encoded =
      body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector
    return {object: 'embedding', index, embedding: encoded}
  })
  const tokens = inputs.reduce(
    (sum: number, i) => sum + (typeof i === 'string' ? countWords(i) : Array.isArray(i) ? i.length : 0),
    0,
  )
  send(res, 200, {object: 'list', data, model: body.model, usage: {prompt_tokens: tokens, total_tokens: tokens}})
}

export function images(body: Body, res: ServerResponse): void {
  // OpenAI's default image model when the request names none
  requireModel('images', body.model ?? 'dall-e-2')
  const n = Number.isInteger(body.n) ? Math.min(Math.max(Number(body.n), 1), 4) : 1
  const item = body.response_format === 'b64_json' ? {b64_json: PNG} : {url: `data:image/png;base64,${PNG}`}
  send(res, 200, {
    created: Math.floor(Date.now() / 1000),
    data: Array.from({length: n}, () => ({...item, revised_prompt: String(body.prompt)})),
  })
}
