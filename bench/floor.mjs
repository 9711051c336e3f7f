// A lower floor than proxy.mjs for the CPU a Node gateway needs per request: the request
// body read and parsed, one undici stream() call upstream with the body as a string, the
// answer collected and parsed, one res.end(); a stream relayed read by read through dispatch().
// No auth, no pool, no accounting, no log.
// bench/cpu-per-request.mjs measures it beside the minimal proxy and gptconv.
import {createServer} from 'node:http'
import {Writable} from 'node:stream'
import {Agent} from 'undici'

const upstream = process.argv[2]
const agent = new Agent({keepAliveTimeout: 60_000})

class Collect extends Writable {
  chunks = []
  _write(chunk, _encoding, callback) {
    this.chunks.push(chunk)
    callback()
  }
}

const server = createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', async () => {
    try {
      const text = Buffer.concat(chunks).toString()
      if (JSON.parse(text).stream) return relay(req.url, text, res)
      const controller = new AbortController()
      res.on('close', () => res.writableFinished || controller.abort())
      let sink
      await agent.stream(
        {
          origin: upstream,
          path: req.url,
          method: 'POST',
          headers: {'content-type': 'application/json', authorization: 'Bearer sk-bench'},
          body: text,
          signal: controller.signal,
        },
        () => (sink = new Collect()),
      )
      const answer = Buffer.concat(sink.chunks).toString()
      JSON.parse(answer)
      res.writeHead(200, {'content-type': 'application/json', 'content-length': Buffer.byteLength(answer)})
      res.end(answer)
    } catch {
      res.destroy()
    }
  })
})
/** A stream: undici's dispatch() with a handler that writes each upstream read to the client, with backpressure. */
function relay(path, text, res) {
  agent.dispatch(
    {
      origin: upstream,
      path,
      method: 'POST',
      headers: {'content-type': 'application/json', authorization: 'Bearer sk-bench'},
      body: text,
    },
    {
      onRequestStart(controller) {
        res.on('close', () => res.writableFinished || controller.abort(new Error('the client went away')))
      },
      onResponseStart() {
        res.writeHead(200, {'content-type': 'text/event-stream'})
      },
      onResponseData(controller, chunk) {
        if (res.write(chunk)) return
        controller.pause()
        res.once('drain', () => controller.resume())
      },
      onResponseEnd() {
        res.end()
      },
      onResponseError() {
        res.destroy()
      },
    },
  )
}

server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.send?.({port: server.address().port}))
process.on('SIGINT', () => process.exit(0))
