import { startTcpProxy, type TcpProxy } from './tcp-proxy.js'

/** A TCP proxy in front of a real server that hands the client its replies slowly. */
export type PacedProxy = TcpProxy

/**
 * Listens on 127.0.0.1 (an ephemeral port) and forwards to `target`: what the
 * client sends goes through at once, what the server answers reaches the
 * client `chunkBytes` at a time, one chunk every `everyMs`. A large reply
 * then arrives as a steady trickle, as it does over a slow or busy link:
 * bytes keep coming for far longer than any one call's time-out.
 */
export async function startPacedProxy(target: number, chunkBytes: number, everyMs: number): Promise<PacedProxy> {
  const timers = new Set<NodeJS.Timeout>()
  return startTcpProxy(
    target,
    (client, upstream) => {
      // Chunks waiting to be handed on, oldest first (a queue, not one growing Buffer: concatenating
      // megabytes on every read from the server made the proxy itself the slow part).
      const pending: Buffer[] = []
      let timer: NodeJS.Timeout | undefined
      const drip = () => {
        let budget = chunkBytes
        while (budget > 0 && pending.length > 0) {
          const head = pending[0]!
          const part = head.subarray(0, budget)
          if (part.length === head.length) pending.shift()
          else pending[0] = head.subarray(part.length)
          budget -= part.length
          if (!client.destroyed) client.write(part)
        }
        if (pending.length === 0 && timer !== undefined) {
          clearInterval(timer)
          timers.delete(timer)
          timer = undefined
        }
      }
      upstream.on('data', (data: Buffer) => {
        pending.push(data)
        if (timer === undefined) {
          timer = setInterval(drip, everyMs)
          timers.add(timer)
        }
      })
    },
    () => {
      for (const timer of timers) clearInterval(timer)
    },
  )
}
