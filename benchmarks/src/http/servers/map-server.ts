/**
 * The node:http ceiling (a child process): a bare server answering from a
 * `Map` filled from the origin on first use, no expiry. What any cache on
 * node:http could at best do per hit.
 *
 *   MAP_PORT=8081 ORIGIN_PORT=9999 node --import tsx map-server.ts
 */
import { createServer, get } from 'node:http'

const port = Number(process.env.MAP_PORT)
const originPort = Number(process.env.ORIGIN_PORT)
const bodies = new Map<string, Buffer>()

function fetchOrigin(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: originPort, path }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve(Buffer.concat(chunks)))
    }).on('error', reject)
  })
}

createServer((req, res) => {
  const url = req.url ?? '/'
  const body = bodies.get(url)
  if (body !== undefined) {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.byteLength })
    res.end(body)
    return
  }
  fetchOrigin(url).then((fetched) => {
    bodies.set(url, fetched)
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': fetched.byteLength })
    res.end(fetched)
  })
}).listen(port, '127.0.0.1', () => process.send?.('ready'))
