import type { IncomingMessage } from 'node:http'
import type { CacheRequest } from './cache-request.js'

/** The cache's view of a `node:http` request. `url` defaults to `req.url` (Express passes `originalUrl`). */
export function fromNodeRequest(req: IncomingMessage, url = req.url ?? '/', body?: Uint8Array): CacheRequest {
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    host: (req.headers.host ?? '').toLowerCase(),
    url,
    headers: req.headers,
    body,
  }
}

/**
 * Read a request body of at most `limit` bytes. A larger one is put back into
 * the stream untouched (`unshift`) and `undefined` is returned, so the request
 * can still go to the origin whole, uncached.
 */
export function readNodeBody(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = () => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
    }
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.byteLength
      if (size <= limit) return
      cleanup()
      req.pause()
      req.unshift(Buffer.concat(chunks))
      resolve(undefined)
    }
    const onEnd = () => {
      cleanup()
      resolve(Buffer.concat(chunks))
    }
    const onError = (error: Error) => {
      cleanup()
      reject(error)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
  })
}
