import { startTcpProxy, type TcpProxy } from './tcp-proxy.js'

/** A TCP proxy in front of a real server that can lose a reply together with its connection. */
export interface ReplyCutProxy extends TcpProxy {
  /**
   * The next bytes the server sends are not handed on: `meanwhile` runs (the
   * command that asked for them has run in Redis, its client has no answer),
   * then the client's connection is reset, as by a network failure or a
   * CLIENT KILL at that instant. Resolves once the connection is reset.
   */
  cutNextReply(meanwhile?: () => Promise<void>): Promise<void>
}

/** Listens on 127.0.0.1 (an ephemeral port) and forwards to `target` both ways. */
export async function startReplyCutProxy(target: number): Promise<ReplyCutProxy> {
  let cut: { meanwhile: () => Promise<void>; done: () => void } | undefined
  const proxy = await startTcpProxy(target, (client, upstream) => {
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
  })
  return {
    ...proxy,
    cutNextReply: (meanwhile = async () => {}) =>
      new Promise<void>((done) => {
        cut = { meanwhile, done }
      }),
  }
}
