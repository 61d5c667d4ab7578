import { connect, createServer, type Server, type Socket } from 'node:net'

/** A TCP proxy on 127.0.0.1 (an ephemeral port) in front of a real server. */
export interface TcpProxy {
  readonly port: number
  /** Closes every connection through it, then the proxy. */
  stop(): Promise<void>
}

/**
 * Listens on 127.0.0.1 (an ephemeral port) and forwards each connection to
 * `target`: what the client sends goes through at once; what the server
 * answers is `relay`'s to hand on (it listens to `upstream`'s 'data'). Either
 * side closing or failing closes both. `onStop` runs first at `stop()`.
 */
export async function startTcpProxy(
  target: number,
  relay: (client: Socket, upstream: Socket) => void,
  onStop: () => void = () => {},
): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1')
    sockets.add(client).add(upstream)
    client.pipe(upstream)
    relay(client, upstream)
    const close = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', close).on('close', close)
    upstream.on('error', close).on('close', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port')
  return {
    port: address.port,
    stop: async () => {
      onStop()
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
