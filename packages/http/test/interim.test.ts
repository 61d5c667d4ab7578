import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { start, stopAll, TestOrigin } from './servers.js'

afterEach(stopAll)

/** GET `url`, collecting the interim responses before the final one. */
function getWithInterim(url: string): Promise<{ status: number; interim: number[]; link: unknown[] }> {
  return new Promise((resolve, reject) => {
    const interim: number[] = []
    const link: unknown[] = []
    const req = request(url, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, interim, link }))
    })
    req.on('information', (info) => {
      interim.push(info.statusCode)
      link.push(info.headers.link)
    })
    req.on('error', reject)
    req.end()
  })
}

describe('interim responses (RFC 9110 §15.2)', () => {
  it("relays the origin's 103 Early Hints to the client whose miss fetched it, and never caches it", async () => {
    const origin = new TestOrigin()
    origin.respond = (_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' })
      res.writeHead(200, { 'cache-control': 'max-age=60' }).end('page')
    }
    const { url } = await start(origin)
    const miss = await getWithInterim(`${url}/page`)
    expect(miss).toEqual({ status: 200, interim: [103], link: ['</style.css>; rel=preload; as=style'] })
    const hit = await getWithInterim(`${url}/page`)
    expect(hit).toEqual({ status: 200, interim: [], link: [] })
    expect(origin.count).toBe(1)
  })
})
