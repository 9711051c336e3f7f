import {randomBytes} from 'node:crypto'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

import type {ExtraTokens} from '../registry.js'
import {chat} from './chat.js'
import {type Body, DemoError, isRecord, send, sendError} from './http.js'
import {embeddings, images} from './media.js'
import {listModels, retrieveModel} from './models.js'
import {DemoResponses, isResponsesPath} from './responses.js'

/**
 * `gptconv serve --demo`: an offline OpenAI-protocol upstream on a loopback port of its
 * own, answering deterministically, plus a token for it. The whole path — client key,
 * pool, relay, streaming, usage ledger — runs exactly as it does with a real account.
 * It serves chat (tool calls, JSON mode, structured outputs), the Responses API natively,
 * embeddings, images and its model list; legacy /v1/completions reach it converted to chat.
 * It plays an upstream, so it speaks OpenAI's wire format itself and shares no code with
 * the daemon's converters.
 */
export type DemoUpstream = {extra: ExtraTokens; close(): Promise<void>}

async function readBody(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  let body: unknown
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new DemoError(400, 'We could not parse the JSON body of your request.', null, 'invalid_json')
  }

  if (!isRecord(body)) throw new DemoError(400, 'The request body must be a JSON object.', null, 'invalid_type')
  return body
}

async function route(req: IncomingMessage, res: ServerResponse, responses: DemoResponses): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://demo')
  const path = url.pathname
  const method = req.method ?? 'GET'
  if (method === 'GET' && path === '/v1/models') return listModels(res)
  if (method === 'GET' && path.startsWith('/v1/models/'))
    return retrieveModel(res, decodeURIComponent(path.slice('/v1/models/'.length)))
  const body = method === 'POST' ? await readBody(req) : undefined
  if (isResponsesPath(path))
    return responses.handle(method, path.slice('/v1/responses'.length), url.searchParams, body, res)
  if (body && path === '/v1/chat/completions') return chat(body, res)
  if (body && path === '/v1/embeddings') return embeddings(body, res)
  if (body && path === '/v1/images/generations') return images(body, res)
  throw new DemoError(404, `The demo upstream does not serve ${method} ${path}.`, null, 'unknown_url')
}

async function handle(req: IncomingMessage, res: ServerResponse, responses: DemoResponses): Promise<void> {
  try {
    await route(req, res, responses)
  } catch (error) {
    if (res.headersSent) res.destroy()
    else if (error instanceof DemoError) sendError(res, error)
    else
      send(res, 500, {
        error: {
          message: `The demo upstream failed: ${(error as Error).message}`,
          type: 'server_error',
          param: null,
          code: null,
        },
      })
  }
}

export async function startDemoUpstream(): Promise<DemoUpstream> {
  const responses = new DemoResponses()
  const server: Server = createServer((req, res) => void handle(req, res, responses))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  const addedAt = new Date().toISOString()
  return {
    extra: {
      // it serves /v1/responses itself, so the daemon passes Responses requests through
      upstreams: {demo: {protocol: 'openai', baseUrl: `http://127.0.0.1:${port}/v1`, responses: 'native'}},
      tokens: [
        {
          entry: {label: 'demo', kind: 'api-key', upstream: 'demo', store: 'file', masked: 'sk-demo…', addedAt},
          secret: `sk-demo-${randomBytes(12).toString('hex')}`,
        },
      ],
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
