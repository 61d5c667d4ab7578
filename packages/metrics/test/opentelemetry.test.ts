import { readFileSync } from 'node:fs'
import { SpanStatusCode } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { TierCache } from '@tiercache/core'
import { cacheHttp, type HttpCacheValue } from '@tiercache/http'
import { afterEach, describe, expect, it } from 'vitest'
import { get, listen } from '../../http/test/servers.js'
import { traceTiercache } from '../examples/opentelemetry.js'

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
const tracer = provider.getTracer('tiercache-test')

describe('docs/observability.md: OpenTelemetry from the tracing channels', () => {
  let stop: (() => void) | undefined
  afterEach(() => {
    stop?.()
    exporter.reset()
  })

  it('a cold get is a span whose children are the store calls and the load; an L1 hit is one span', async () => {
    stop = traceTiercache(tracer)
    const cache = new TierCache<string>({ name: 'users' })
    await cache.get('user:1', async () => 'Ada')
    await cache.get('user:1', async () => 'Ada')
    const spans = exporter.getFinishedSpans()
    const gets = spans.filter((s) => s.name === 'tiercache get')
    expect(gets.map((s) => s.attributes)).toEqual([
      { 'tiercache.cache': 'users', 'tiercache.key': 'user:1', 'tiercache.hit_level': 3 },
      { 'tiercache.cache': 'users', 'tiercache.key': 'user:1', 'tiercache.hit_level': 1 },
    ])
    const cold = gets[0]!.spanContext().spanId
    const children = spans.filter((s) => s.parentSpanContext?.spanId === cold).map((s) => s.name)
    expect(children).toEqual([
      'tiercache store get',
      'tiercache store lock',
      'tiercache store get', // re-read under the lock
      'tiercache load',
      'tiercache store set',
      'tiercache store unlock',
    ])
    expect(gets[1]!.parentSpanContext).toBeUndefined()
  })

  it('a failed load marks the get and the load spans as errors', async () => {
    stop = traceTiercache(tracer)
    const cache = new TierCache<string>({ name: 'users', lruSize: 0 })
    cache.on('error', () => {})
    await expect(
      cache.get('user:2', async () => {
        throw new Error('db down')
      }),
    ).rejects.toThrow('db down')
    const byName = new Map(exporter.getFinishedSpans().map((s) => [s.name, s]))
    expect(byName.get('tiercache load')!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'db down' })
    expect(byName.get('tiercache get')!.status.code).toBe(SpanStatusCode.ERROR)
    expect(byName.get('tiercache get')!.events.map((e) => e.name)).toEqual(['exception'])
  })

  it('a request through @tiercache/http is a span above the gets it made, with its X-Cache status', async () => {
    stop = traceTiercache(tracer)
    const cache = new TierCache<HttpCacheValue>({ name: 'pages' })
    const server = await listen(cacheHttp((_req, res) => res.end('page'), { cache, ttl: 60_000 }))
    try {
      await get(`${server.url}/p?x=1`)
    } finally {
      await server.close()
    }
    const spans = exporter.getFinishedSpans()
    const request = spans.find((s) => s.name === 'tiercache http GET')!
    expect(request.attributes).toEqual({
      'tiercache.cache': 'pages',
      'http.request.method': 'GET',
      'url.path': '/p?x=1',
      'tiercache.cache_status': 'MISS',
    })
    const gets = spans.filter((s) => s.name === 'tiercache get')
    expect(gets.length).toBeGreaterThan(0)
    for (const span of gets) expect(span.parentSpanContext?.spanId).toBe(request.spanContext().spanId)
  })

  it('stops: no span once the bridge is removed', async () => {
    traceTiercache(tracer)()
    await new TierCache<string>({ name: 'users' }).get('k', async () => 'v')
    expect(exporter.getFinishedSpans()).toEqual([])
  })

  it('is the code docs/observability.md shows', () => {
    const doc = readFileSync(new URL('../../../docs/observability.md', import.meta.url), 'utf8')
    const example = readFileSync(new URL('../examples/opentelemetry.ts', import.meta.url), 'utf8')
    expect(doc).toContain(example.trim())
  })
})
