// The bench's fake upstream: as fast as node:http allows. Non-stream chat answers a fixed
// body; streams send N chunks (optionally spaced), each carrying the time it was sent
// (performance.timeOrigin + performance.now(), comparable across processes) so the client
// can measure how long a chunk took to arrive.
import {createServer} from 'node:http'

const port = Number(process.argv[2] ?? 0)
const now = () => performance.timeOrigin + performance.now()
const usage = {prompt_tokens: 12, completion_tokens: 20, total_tokens: 32}
const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1700000000,
  model: 'gpt-4o-mini',
  system_fingerprint: 'fp_bench',
  choices: [
    {
      index: 0,
      message: {role: 'assistant', content: 'word '.repeat(20).trim(), refusal: null},
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage,
})
const chunk = (delta, finish = null, extra = {}) =>
  `data: ${JSON.stringify({id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini', choices: [{index: 0, delta, logprobs: null, finish_reason: finish}], ...extra})}\n\n`

const server = createServer((req, res) => {
  const parts = []
  req.on('data', (c) => parts.push(c))
  req.on('end', async () => {
    if (req.url.endsWith('/models'))
      return void res.writeHead(200, {'content-type': 'application/json'}).end('{"object":"list","data":[]}')
    const body = JSON.parse(Buffer.concat(parts).toString() || '{}')
    if (!body.stream) {
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-request-id': 'req_bench',
        'content-length': Buffer.byteLength(completion),
      })
      return void res.end(completion)
    }

    const chunks = Number(body.bench_chunks ?? 20)
    const gap = Number(body.bench_gap_ms ?? 0)
    res.writeHead(200, {'content-type': 'text/event-stream; charset=utf-8', 'x-request-id': 'req_bench'})
    res.write(chunk({role: 'assistant', content: ''}))
    for (let i = 0; i < chunks; i++) {
      if (gap) await new Promise((r) => setTimeout(r, gap))
      if (res.destroyed) return
      res.write(chunk({content: `w${i} `}, null, {sent_at: now()}))
    }

    res.write(chunk({}, 'stop'))
    if (body.stream_options?.include_usage) res.write(chunk({}, null, {choices: [], usage}))
    res.end('data: [DONE]\n\n')
  })
})
server.keepAliveTimeout = 60_000
server.listen(port, '127.0.0.1', () => process.send?.({port: server.address().port}))
