import {createHash, randomBytes} from 'node:crypto'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'

import type {ExtraTokens} from './registry.js'

/**
 * `gptconv serve --demo`: an offline OpenAI-protocol upstream on a loopback port of its
 * own, answering deterministically, plus a token for it. The whole path — client key,
 * pool, relay, streaming, usage ledger — runs exactly as it does with a real account.
 * It serves chat, embeddings and images; legacy /v1/completions reach it converted.
 */
export type DemoUpstream = {extra: ExtraTokens; close(): Promise<void>}

const MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-3.5-turbo', 'text-embedding-3-small', 'dall-e-3']
/** A 1×1 transparent PNG. */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='

type Body = Record<string, unknown>

const words = (text: string) => text.split(/\s+/).filter(Boolean).length
const lastUser = (messages: unknown) =>
  (Array.isArray(messages) ? [...messages].reverse().find((m: {role?: string}) => m?.role === 'user') : undefined) as {content?: unknown} | undefined

function answerFor(body: Body): string {
  const content = lastUser(body.messages)?.content
  const said = typeof content === 'string' ? content : Array.isArray(content) ? content.map((p: {text?: string}) => p?.text ?? '').join(' ') : ''
  const excerpt = said.length > 80 ? `${said.slice(0, 77)}...` : said
  return `This is the gptconv demo upstream answering as ${String(body.model)}. You said: "${excerpt}". Add a real token with \`gptconv tokens add\` to talk to a model.`
}

/** The answer cut by `max_tokens` (in words) and `stop`, with its finish reason. */
function shape(text: string, body: Body): {text: string; finish: 'stop' | 'length'} {
  const stops = typeof body.stop === 'string' ? [body.stop] : Array.isArray(body.stop) ? body.stop.filter((s): s is string => typeof s === 'string' && s !== '') : []
  let finish: 'stop' | 'length' = 'stop'
  for (const stop of stops) if (text.includes(stop)) text = text.slice(0, text.indexOf(stop))
  const limit = Number(body.max_completion_tokens ?? body.max_tokens)
  const parts = text.match(/\S+\s*/g) ?? []
  if (Number.isInteger(limit) && limit >= 0 && parts.length > limit) {
    text = parts.slice(0, limit).join('')
    finish = 'length'
  }

  return {text, finish}
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {'content-type': 'application/json', 'x-request-id': `req_demo_${randomBytes(6).toString('hex')}`})
  res.end(JSON.stringify(body))
}

async function chat(body: Body, res: ServerResponse): Promise<void> {
  const n = Number.isInteger(body.n) ? Math.min(Math.max(Number(body.n), 1), 8) : 1
  const id = `chatcmpl-demo${randomBytes(8).toString('hex')}`
  const created = Math.floor(Date.now() / 1000)
  const answers = Array.from({length: n}, (_, k) => shape(answerFor(body) + (k > 0 ? ` (choice ${k + 1})` : ''), body))
  const usage = {prompt_tokens: Array.isArray(body.messages) ? body.messages.length * 8 : 0, completion_tokens: answers.reduce((sum, a) => sum + words(a.text), 0), total_tokens: 0}
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
  const base = {id, created, model: body.model, system_fingerprint: 'fp_demo'}
  if (body.stream !== true) {
    const choices = answers.map((a, index) => ({index, message: {role: 'assistant', content: a.text, refusal: null}, logprobs: null, finish_reason: a.finish}))
    send(res, 200, {...base, object: 'chat.completion', choices, usage})
    return
  }

  const withUsage = (body.stream_options as {include_usage?: boolean} | undefined)?.include_usage === true
  const chunk = (choices: unknown[], extra: object = {}) => `data: ${JSON.stringify({...base, object: 'chat.completion.chunk', choices, ...(withUsage && {usage: null}), ...extra})}\n\n`
  res.writeHead(200, {'content-type': 'text/event-stream; charset=utf-8', 'x-request-id': `req_demo_${randomBytes(6).toString('hex')}`})
  res.write(chunk(answers.map((_, index) => ({index, delta: {role: 'assistant', content: ''}, logprobs: null, finish_reason: null}))))
  const pieces = answers.map((a) => a.text.match(/\S+\s*/g) ?? [])
  for (let i = 0; i < Math.max(...pieces.map((p) => p.length)); i++) {
    await sleep(15)
    if (res.destroyed) return
    for (const [index, p] of pieces.entries()) if (i < p.length) res.write(chunk([{index, delta: {content: p[i]}, logprobs: null, finish_reason: null}]))
  }

  res.write(chunk(answers.map((a, index) => ({index, delta: {}, logprobs: null, finish_reason: a.finish}))))
  if (withUsage) res.write(chunk([], {usage}))
  res.end('data: [DONE]\n\n')
}

function embedding(input: unknown, dimensions: number): number[] {
  const digest = createHash('sha256').update(JSON.stringify(input)).digest()
  return Array.from({length: dimensions}, (_, i) => Math.round(((digest[i % digest.length] / 255) * 2 - 1) * 1e6) / 1e6)
}

function embeddings(body: Body, res: ServerResponse): void {
  const inputs = Array.isArray(body.input) && (body.input.length === 0 || typeof body.input[0] !== 'number') ? body.input : [body.input]
  const dimensions = Number.isInteger(body.dimensions) ? Number(body.dimensions) : 16
  const data = inputs.map((input, index) => {
    const vector = embedding(input, dimensions)
    const encoded = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector
    return {object: 'embedding', index, embedding: encoded}
  })
  const tokens = inputs.reduce((sum: number, i) => sum + (typeof i === 'string' ? words(i) : Array.isArray(i) ? i.length : 0), 0)
  send(res, 200, {object: 'list', data, model: body.model, usage: {prompt_tokens: tokens, total_tokens: tokens}})
}

function images(body: Body, res: ServerResponse): void {
  const n = Number.isInteger(body.n) ? Math.min(Math.max(Number(body.n), 1), 4) : 1
  const item = body.response_format === 'b64_json' ? {b64_json: PNG} : {url: `data:image/png;base64,${PNG}`}
  send(res, 200, {created: Math.floor(Date.now() / 1000), data: Array.from({length: n}, () => ({...item, revised_prompt: String(body.prompt)}))})
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const path = (req.url ?? '/').split('?')[0]
  if (req.method === 'GET' && path === '/v1/models') {
    send(res, 200, {object: 'list', data: MODELS.map((id) => ({id, object: 'model', created: 1_700_000_000, owned_by: 'gptconv-demo'}))})
    return
  }

  let body: Body
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body
  } catch {
    send(res, 400, {error: {message: 'invalid JSON', type: 'invalid_request_error', param: null, code: null}})
    return
  }

  if (path === '/v1/chat/completions') await chat(body, res)
  else if (path === '/v1/embeddings') embeddings(body, res)
  else if (path === '/v1/images/generations') images(body, res)
  else send(res, 404, {error: {message: `The demo upstream does not serve ${path}.`, type: 'invalid_request_error', param: null, code: 'unknown_url'}})
}

export async function startDemoUpstream(): Promise<DemoUpstream> {
  const server: Server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  const addedAt = new Date().toISOString()
  return {
    extra: {
      upstreams: {demo: {protocol: 'openai', baseUrl: `http://127.0.0.1:${port}/v1`}},
      tokens: [{entry: {label: 'demo', kind: 'api-key', upstream: 'demo', store: 'file', masked: 'sk-demo…', addedAt}, secret: `sk-demo-${randomBytes(12).toString('hex')}`}],
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
