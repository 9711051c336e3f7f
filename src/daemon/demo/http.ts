import {randomBytes} from 'node:crypto'
import type {ServerResponse} from 'node:http'

/** The demo upstream's HTTP plumbing: JSON replies, OpenAI's error envelope, SSE, ids. */

export type Body = Record<string, unknown>

/** A request the demo refuses, answered in OpenAI's error envelope. */
export class DemoError extends Error {
  readonly status: number
  readonly param: string | null
  readonly code: string | null

  constructor(status: number, message: string, param: string | null = null, code: string | null = null) {
    super(message)
    this.status = status
    this.param = param
    this.code = code
  }
}

export const isRecord = (value: unknown): value is Body =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** A fresh id like OpenAI's: the prefix, a separator, random hex. */
export const newId = (prefix: string, bytes = 12, separator = '_') =>
  `${prefix}${separator}${randomBytes(bytes).toString('hex')}`

const requestId = () => newId('req_demo', 6)

export function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {'content-type': 'application/json', 'x-request-id': requestId()})
  res.end(JSON.stringify(body))
}

export function sendError(res: ServerResponse, error: DemoError): void {
  send(res, error.status, {
    error: {message: error.message, type: 'invalid_request_error', param: error.param, code: error.code},
  })
}

export function startSse(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': requestId(),
  })
}

/** Text as a model streams it: one word (with the space after it) per piece. */
export const wordPieces = (text: string): string[] => text.match(/\S+\s*/g) ?? []

/** JSON (arguments, structured output) as a model streams it: eight characters per piece. */
export const jsonPieces = (text: string): string[] => text.match(/[\s\S]{1,8}/g) ?? []

export const countWords = (text: string): number => wordPieces(text).length

/** The text of message content: a string, or the text of its parts. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content.flatMap((p: unknown) => (isRecord(p) && typeof p.text === 'string' ? [p.text] : [])).join(' ')
}
