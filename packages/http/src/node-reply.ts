import type { ServerResponse } from 'node:http'
import type { FreshHit } from './fresh-hit.js'
import type { Reply } from './reply.js'

/**
 * Write a reply to a `node:http` response. A streaming body is written with
 * backpressure, and let go of (`cancel`) if the client leaves first.
 */
export async function writeNodeReply(res: ServerResponse, reply: Reply): Promise<void> {
  res.statusCode = reply.status
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value)
  const body = reply.body
  if (body === undefined || body instanceof Uint8Array) {
    res.end(body)
    return
  }
  const leave = () => body.cancel()
  res.once('close', leave)
  try {
    for await (const chunk of body) {
      if (res.destroyed) return
      if (!res.write(chunk)) await drained(res)
    }
    res.end()
  } catch (error) {
    // Headers are gone: the only honest signal left is a broken connection.
    res.destroy(error as Error)
  } finally {
    res.off('close', leave)
  }
}

/** Write a fresh hit: its head as built once for the entry, its body in the same write. */
export function writeFreshHit(res: ServerResponse, hit: FreshHit): void {
  res.writeHead(hit.status, hit.head as string[])
  res.end(hit.body)
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}
