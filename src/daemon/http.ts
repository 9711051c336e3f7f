import type {IncomingMessage, ServerResponse} from 'node:http'
import {Writable} from 'node:stream'

import {ApiError} from './errors.js'

const decoder = new TextDecoder('utf-8', {fatal: true})

/**
 * Read a JSON request body of at most `limit` bytes. Too big → 413 (checked against
 * Content-Length first, then while reading); not UTF-8 or not JSON → 400.
 */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'])
  if (declared > limit) throw tooLarge(limit)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) throw tooLarge(limit)
    chunks.push(chunk as Buffer)
  }

  if (size === 0) throw new ApiError(400, 'invalid_json', 'The request body is empty; send a JSON object.')
  let text: string
  try {
    text = decoder.decode(Buffer.concat(chunks, size))
  } catch {
    throw new ApiError(400, 'invalid_json', 'The request body is not valid UTF-8.')
  }

  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new ApiError(400, 'invalid_json', `The request body is not valid JSON: ${(error as Error).message}.`)
  }
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'request_too_large', `The request body is larger than the limit of ${limit} bytes (server.bodyLimitBytes).`)
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
  res.writeHead(status, {...headers, 'content-type': 'application/json', 'content-length': String(payload.length)})
  res.end(payload)
}

export const SSE_HEADERS = {'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no'} as const

/** A plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The end of a stream pipeline: writes to the response with backpressure, but never ends
 * or destroys it, so that after a failure the caller can still send one error event.
 */
export function responseSink(res: ServerResponse): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      if (res.destroyed) {
        callback(new Error('client connection closed'))
        return
      }

      if (res.write(chunk)) {
        callback()
        return
      }

      const done = () => {
        res.off('drain', done)
        res.off('close', done)
        callback()
      }

      res.on('drain', done)
      res.on('close', done)
    },
  })
}
