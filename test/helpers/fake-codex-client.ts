import assert from 'node:assert/strict'

import {request} from 'undici'

/** A small HTTP client for the fake Codex self-tests: one request, the whole answer, no redirects followed. */

export type Obj = Record<string, unknown>
export type HttpReply = {status: number; headers: Record<string, string>; text: string; error?: Error}
export type Frame = {event: string | undefined; data: Obj}

export type CallOptions = {
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  json?: unknown
  form?: Record<string, string>
  raw?: string
  signal?: AbortSignal
}

export async function call(url: string, options: CallOptions = {}): Promise<HttpReply> {
  const headers: Record<string, string> = {...options.headers}
  let body = options.raw
  if (options.json !== undefined) {
    body = JSON.stringify(options.json)
    headers['content-type'] = 'application/json'
  }
  if (options.form !== undefined) {
    body = new URLSearchParams(options.form).toString()
    headers['content-type'] = 'application/x-www-form-urlencoded'
  }
  const method = options.method ?? (body === undefined ? 'GET' : 'POST')
  const res = await request(url, {method, headers, body, signal: options.signal ?? AbortSignal.timeout(5_000)})
  const flat: Record<string, string> = {}
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v
  const parts: Buffer[] = []
  let error: Error | undefined
  try {
    for await (const chunk of res.body) parts.push(chunk as Buffer)
  } catch (e) {
    error = e instanceof Error ? e : new Error(String(e))
  }
  return {status: res.statusCode, headers: flat, text: Buffer.concat(parts).toString('utf8'), error}
}

export function json(reply: HttpReply): Obj {
  assert.equal(reply.error, undefined)
  assert.match(reply.headers['content-type'] ?? '', /^application\/json/)
  return JSON.parse(reply.text) as Obj
}

/** The SSE events of a body (`event:` + `data:` lines, blank line after each), and what follows the last blank line. */
export function parseFrames(text: string): {frames: Frame[]; trailing: string} {
  const pieces = text.split('\n\n')
  const trailing = pieces.pop() ?? ''
  const frames = pieces.map((piece) => {
    let event: string | undefined
    let data: string | undefined
    for (const line of piece.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice('event: '.length)
      else if (line.startsWith('data: ')) data = line.slice('data: '.length)
      else assert.fail(`unexpected SSE line: ${JSON.stringify(line)}`)
    }
    assert.notEqual(data, undefined, 'every event has a data line')
    return {event, data: JSON.parse(data ?? 'null') as Obj}
  })
  return {frames, trailing}
}

/** A complete 200 stream: its events, each `event:` name equal to the data's `type`. */
export function streamOk(reply: HttpReply): Frame[] {
  assert.equal(reply.status, 200, reply.text)
  assert.equal(reply.headers['content-type'], 'text/event-stream; charset=utf-8')
  assert.equal(reply.error, undefined)
  const {frames, trailing} = parseFrames(reply.text)
  assert.equal(trailing, '')
  for (const f of frames) assert.equal(f.event, f.data.type)
  return frames
}

export function jwtPayload(token: string): Obj {
  const parts = token.split('.')
  assert.equal(parts.length, 3, 'a JWT has three parts')
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Obj
}

export function asObj(v: unknown): Obj {
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), `expected an object, got ${JSON.stringify(v)}`)
  return v as Obj
}
