import { connect, createServer, type Server, type Socket } from 'node:net'

/** A TCP proxy in front of a real server that can lose a reply together with its connection. */
export interface ReplyCutProxy {
  readonly port: number
  /**
   * The next bytes the server sends are not handed on: `meanwhile` runs (the
   * command that asked for them has run in Redis, its client has no answer),
   * then the client's connection is reset, as by a network failure or a
   * CLIENT KILL at that instant. Resolves once the connection is reset.
   */
  cutNextReply(meanwhile?: () => Promise<void>): Promise<void>
  stop(): Promise<void>
}

/** Listens on 127.0.0.1 (an ephemeral port) and forwards to `target` both ways. */
export async function startReplyCutProxy(target: number): Promise<ReplyCutProxy> {
  const sockets = new Set<Socket>()
  let cut: { meanwhile: () => Promise<void>; done: () => void } | undefined
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1')
    sockets.add(client).add(upstream)
    client.pipe(upstream)
    let cutting = false
    upstream.on('data', (data: Buffer) => {
      if (cutting) return
      const now = cut
      if (now === undefined) {
        client.write(data)
        return
      }
      cut = undefined
      cutting = true
      void now.meanwhile().finally(() => {
        client.resetAndDestroy()
        upstream.destroy()
        now.done()
      })
    })
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
    cutNextReply: (meanwhile = async () => {}) =>
      new Promise<void>((done) => {
        cut = { meanwhile, done }
      }),
    stop: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
