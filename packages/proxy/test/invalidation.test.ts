import { parseConfig, type Proxy as RunningProxy, startProxy } from '@tiercache/proxy'
import { afterEach, describe, expect, it } from 'vitest'
import { Origin } from './proxy-process.js'

const running: { stop(): Promise<void> }[] = []
afterEach(async () => {
  for (const each of running.splice(0).reverse()) await each.stop()
})

async function setUp(policy: 'nginx' | 'rfc9111'): Promise<{ origin: Origin; proxy: RunningProxy; url: string }> {
  const origin = new Origin()
  const originUrl = await origin.listen()
  running.push({ stop: () => origin.close() })
  const proxy = await startProxy(
    parseConfig(['--origin', originUrl, '--port', '0', '--policy', policy, '--access-log', 'off']),
  )
  running.push({ stop: () => proxy.close() })
  return { origin, proxy, url: `http://127.0.0.1:${proxy.address.port}` }
}

describe('tiercache-proxy, --policy rfc9111: invalidation after unsafe methods (RFC 9111 §4.4)', () => {
  it('a POST to a cached URL (a bypass, passed to the origin) removes its cached GET response', async () => {
    const { origin, url } = await setUp('rfc9111')
    origin.headers = { 'content-type': 'text/plain', 'cache-control': 'max-age=600' }
    expect((await fetch(`${url}/item`)).headers.get('x-cache')).toBe('MISS')
    expect((await fetch(`${url}/item`)).headers.get('x-cache')).toBe('HIT')
    origin.body = 'v2'
    const posted = await fetch(`${url}/item`, { method: 'POST', body: 'change' })
    expect(posted.status).toBe(200)
    await posted.text()
    const after = await fetch(`${url}/item`)
    expect(await after.text(), 'the GET after the POST was served the response the POST changed').toBe('v2')
    expect(after.headers.get('x-cache')).toBe('MISS')
  })
})
