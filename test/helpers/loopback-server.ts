import {setMaxListeners} from 'node:events'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo, Socket} from 'node:net'

/**
 * The HTTP server under each fake upstream: 127.0.0.1 on port 0, its sockets tracked so that
 * `close()` ends hanging requests too, and a `stopping` signal every pending wait listens to.
 */
export class LoopbackServer {
  readonly origin: string
  /** aborted on close (one listener per pending wait: hundreds under load) */
  readonly stopping = new AbortController()
  private readonly sockets = new Set<Socket>()
  private closing: Promise<void> | undefined

  private constructor(private readonly server: Server) {
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    setMaxListeners(0, this.stopping.signal)
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
  }

  static async start(onRequest: (req: IncomingMessage, res: ServerResponse) => void): Promise<LoopbackServer> {
    const server = createServer({keepAliveTimeout: 5_000}, onRequest)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
    return new LoopbackServer(server)
  }

  /** Stop listening and destroy every socket, hanging requests included. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.stopping.abort()
      this.server.close(() => resolve())
      this.server.closeAllConnections()
      for (const socket of this.sockets) socket.destroy()
    })
    return this.closing
  }
}
