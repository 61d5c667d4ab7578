import { AsyncLocalStorage } from 'node:async_hooks'
import { tracingChannel } from 'node:diagnostics_channel'
import { type Attributes, context, type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api'
import type { GetTrace, HttpRequestTrace, LoadTrace, StoreTrace } from '@tiercache/core'

/**
 * tiercache's tracing channels as OpenTelemetry spans: one span per get, with
 * the loader call and the store calls it made as child spans, and one per
 * request through `@tiercache/http` above the gets it made. Returns a
 * function that stops.
 */
export function traceTiercache(tracer: Tracer): () => void {
  // The span of the call in progress: tiercache runs each traced call inside the
  // `start` channel's stores, so a load or a store call finds its get's span here.
  const current = new AsyncLocalStorage<Span>()
  const spans = new WeakMap<object, Span>()
  const stops: (() => void)[] = []

  function bridge<T extends object & { error?: unknown }>(
    name: string,
    describe: (ctx: T) => { name: string; attributes: Attributes },
    onEnd: (span: Span, ctx: T) => void = () => {},
  ): void {
    const channel = tracingChannel<Span, T>(name)
    channel.start.bindStore(current, (ctx) => {
      const parent = current.getStore()
      const { name: spanName, attributes } = describe(ctx)
      const parentContext = parent === undefined ? context.active() : trace.setSpan(context.active(), parent)
      const span = tracer.startSpan(spanName, { attributes }, parentContext)
      spans.set(ctx, span)
      return span
    })
    const handlers = {
      error(ctx: T) {
        const span = spans.get(ctx)
        const error = ctx.error instanceof Error ? ctx.error : new Error(String(ctx.error))
        span?.recordException(error)
        span?.setStatus({ code: SpanStatusCode.ERROR, message: error.message })
      },
      asyncEnd(ctx: T) {
        const span = spans.get(ctx)
        if (span === undefined) return
        onEnd(span, ctx)
        span.end()
      },
    }
    channel.subscribe(handlers as never)
    stops.push(() => {
      channel.unsubscribe(handlers as never)
      channel.start.unbindStore(current)
    })
  }

  // Keys may hold personal data: drop `tiercache.key` if yours do.
  bridge<GetTrace>(
    'tiercache:get',
    (ctx) => ({ name: 'tiercache get', attributes: { 'tiercache.cache': ctx.cache, 'tiercache.key': ctx.key } }),
    (span, ctx) => {
      if (ctx.hitLevel !== undefined) span.setAttribute('tiercache.hit_level', ctx.hitLevel)
      if (ctx.reason !== undefined) span.setAttribute('tiercache.stale_reason', ctx.reason)
    },
  )
  bridge<LoadTrace>('tiercache:load', (ctx) => ({
    name: 'tiercache load',
    attributes: {
      'tiercache.cache': ctx.cache,
      'tiercache.keys': ctx.keys.length,
      'tiercache.refresh': ctx.refreshing,
    },
  }))
  bridge<StoreTrace>('tiercache:store', (ctx) => ({
    name: `tiercache store ${ctx.operation}`,
    attributes: { 'tiercache.cache': ctx.cache, 'tiercache.store': ctx.store, 'db.operation.name': ctx.operation },
  }))
  bridge<HttpRequestTrace>(
    'tiercache:http:request',
    (ctx) => ({
      name: `tiercache http ${ctx.method}`,
      attributes: { 'tiercache.cache': ctx.cache, 'http.request.method': ctx.method, 'url.path': ctx.url },
    }),
    (span, ctx) => {
      if (ctx.cacheStatus !== undefined) span.setAttribute('tiercache.cache_status', ctx.cacheStatus)
    },
  )
  return () => {
    for (const stop of stops) stop()
  }
}
