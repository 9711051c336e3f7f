// The practical floor for a Node reverse proxy: node:http in, one undici Agent out, the
// body streamed both ways with pipeline(). No parsing, no auth, no accounting.
import {createServer} from 'node:http'
import {pipeline} from 'node:stream/promises'
import {Agent} from 'undici'

const upstream = process.argv[2]
const agent = new Agent({keepAliveTimeout: 60_000})
const server = createServer(async (req, res) => {
  try {
    const up = await agent.request({
      origin: upstream,
      path: req.url,
      method: req.method,
      headers: {'content-type': 'application/json', authorization: 'Bearer sk-bench'},
      body: req,
    })
    res.writeHead(up.statusCode, {
      'content-type': up.headers['content-type'],
      'x-request-id': up.headers['x-request-id'],
    })
    await pipeline(up.body, res)
  } catch {
    res.destroy()
  }
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.send?.({port: server.address().port}))
process.on('SIGINT', () => process.exit(0))
