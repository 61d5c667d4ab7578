import { describe, expect, it } from 'vitest'
import { type LoaderContext, TierCache, TimeoutError } from '../src/index.js'
import { cacheWithClock, tick, until } from './fixtures.js'

/** A loader that waits until released (or until its ctx.signal aborts, which it honours), recording its signals. */
function gatedLoader(value = 'v') {
  const signals: AbortSignal[] = []
  let release!: () => void
  let gate = new Promise<void>((resolve) => (release = resolve))
  const loader = (_key: string, ctx: LoaderContext<string>) => {
    signals.push(ctx.signal)
    return new Promise<string>((resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })
      void gate.then(() => resolve(value))
    })
  }
  return {
    loader,
    signals,
    release: () => release(),
    reset: () => {
      gate = new Promise<void>((resolve) => (release = resolve))
    },
  }
}

describe('abort: a caller’s signal', () => {
  it('rejects that caller with the signal’s reason; the others get the value and the load runs on', async () => {
    const cache = new TierCache<string>({ name: 'abort-one' })
    const { loader, signals, release } = gatedLoader()
    const quitter = new AbortController()
    const a = cache.get('k', { signal: quitter.signal }, loader)
    const b = cache.get('k', loader)
    await until(() => signals.length === 1)
    quitter.abort()
    await expect(a).rejects.toMatchObject({ name: 'AbortError' })
    release()
    expect(await b).toBe('v')
    expect(signals[0]!.aborted).toBe(false)
    expect(cache.peek('k')?.value).toBe('v')
  })

  it('aborts the loader’s ctx.signal once every waiter has aborted, with the last one’s reason', async () => {
    const cache = new TierCache<string>({ name: 'abort-all' })
    const errors: unknown[] = []
    cache.on('error', (error) => errors.push(error))
    const { loader, signals, release, reset } = gatedLoader()
    const one = new AbortController()
    const two = new AbortController()
    const a = cache.get('k', { signal: one.signal }, loader)
    const b = cache.get('k', { signal: two.signal }, loader)
    await until(() => signals.length === 1)
    one.abort(new Error('first gone'))
    await expect(a).rejects.toThrow('first gone')
    await tick()
    expect(signals[0]!.aborted).toBe(false)
    two.abort(new Error('second gone'))
    await expect(b).rejects.toThrow('second gone')
    expect(signals[0]!.aborted).toBe(true)
    expect(signals[0]!.reason).toEqual(new Error('second gone'))
    // An abandoned load is not the origin failing: no error event, nothing cached.
    await tick()
    expect(errors).toEqual([])
    expect(cache.peek('k')).toBeUndefined()
    // A caller arriving now starts a new load rather than join the abandoned one.
    reset()
    const c = cache.get('k', loader)
    await until(() => signals.length === 2)
    release()
    expect(await c).toBe('v')
  })

  it('a signal already aborted rejects at once and starts no load', async () => {
    const cache = new TierCache<string>({ name: 'abort-before' })
    let calls = 0
    const reason = new Error('too late')
    await expect(cache.get('k', { signal: AbortSignal.abort(reason) }, () => `v${++calls}`)).rejects.toBe(reason)
    await expect(cache.getMany(['k'], { signal: AbortSignal.abort(reason) }, () => ['x'])).rejects.toBe(reason)
    expect(calls).toBe(0)
  })

  it('getMany with a signal: the call rejects when it aborts', async () => {
    const cache = new TierCache<string>({ name: 'abort-many' })
    const controller = new AbortController()
    const got = cache.getMany(['a', 'b'], { signal: controller.signal }, () => new Promise<string[]>(() => {}))
    controller.abort()
    await expect(got).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('a background refresh keeps running when the caller that started it aborts', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 10_000 })
    await cache.get('k', () => 'old')
    clock.advance(1_500)
    const { loader, signals, release } = gatedLoader('new')
    const controller = new AbortController()
    expect(await cache.get('k', { signal: controller.signal }, loader)).toBe('old')
    await until(() => signals.length === 1)
    controller.abort()
    await tick()
    expect(signals[0]!.aborted).toBe(false)
    release()
    await until(() => cache.peek('k')?.value === 'new')
  })

  it('rejects a signal that is not an AbortSignal, naming it', async () => {
    const cache = new TierCache<string>({ name: 'abort-bad' })
    await expect(cache.get('k', { signal: {} as AbortSignal }, () => 'v')).rejects.toThrow(
      /options\.signal must be an AbortSignal/,
    )
  })
})

describe('abort: the loader’s ctx.signal', () => {
  it('aborts on close(): the load is abandoned and its callers reject with an AbortError', async () => {
    const cache = new TierCache<string>({ name: 'abort-close' })
    const { loader, signals } = gatedLoader()
    const waiting = cache.get('k', loader)
    await until(() => signals.length === 1)
    cache.close()
    expect(signals[0]!.aborted).toBe(true)
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError', message: expect.stringMatching(/closed/) })
  })

  it('aborts at the hard timeout with the TimeoutError', async () => {
    const cache = new TierCache<string>({ name: 'abort-timeout', hardTimeout: '30ms' })
    const { loader, signals } = gatedLoader()
    await expect(cache.get('k', loader)).rejects.toBeInstanceOf(TimeoutError)
    expect(signals[0]!.reason).toBeInstanceOf(TimeoutError)
  })
})
