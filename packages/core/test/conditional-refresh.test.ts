import { describe, expect, it } from 'vitest'
import {
  type LoaderContext,
  LoaderError,
  MemoryStore,
  NOT_MODIFIED,
  type SharedStore,
  TierCache,
} from '../src/index.js'
import { cacheWithClock, ManualClock, until } from './fixtures.js'

interface Doc {
  body: string
}

/** An origin with ETags: answers NOT_MODIFIED to a matching If-None-Match, counting full answers. */
function origin() {
  const state = { etag: 'e1', body: 'one', full: 0, notModified: 0, seen: [] as unknown[] }
  const loader = (_key: string, ctx: LoaderContext<Doc>) => {
    const etag = (ctx.staleMeta as { etag?: string } | undefined)?.etag
    state.seen.push(ctx.staleMeta)
    if (etag === state.etag) {
      state.notModified++
      return NOT_MODIFIED
    }
    state.full++
    ctx.meta = { etag: state.etag }
    return { body: state.body }
  }
  return { state, loader }
}

describe('conditional refresh: ctx.staleMeta, ctx.meta and NOT_MODIFIED', () => {
  it('the loader sees the meta it stored, and NOT_MODIFIED makes the entry fresh again with the same value', async () => {
    const { cache, clock, store } = cacheWithClock<Doc>({ ttl: 1_000, staleTtl: 10_000 })
    const { state, loader } = origin()
    const first = await cache.get('doc', loader)
    const before = await store.read('test', 'doc')
    clock.advance(1_500)
    expect(await cache.getWithInfo('doc', loader)).toMatchObject({ value: first, stale: true })
    await until(() => state.notModified === 1)
    await until(() => cache.peek('doc')?.stale === false)
    expect(state.seen).toEqual([undefined, { etag: 'e1' }])
    expect(cache.peek('doc')).toMatchObject({ value: first, ttlRemaining: 1_000 })
    // The store's record is fresh again, its bytes and version untouched (a TTL extension, not a write).
    const after = await store.read('test', 'doc')
    expect(after.record?.freshMs).toBe(1_000)
    expect(after.record?.data).toBe(before.record?.data)
    expect(after.version.split('.')[2]).toBe(before.version.split('.')[2])
    expect(state.full).toBe(1)
  })

  it('the meta travels with the value through the store: another cache with an empty L1 sees it', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const a = new TierCache<Doc>({ name: 'cond', store, clock, ttl: 1_000, staleTtl: 10_000 })
    const b = new TierCache<Doc>({ name: 'cond', store, clock, ttl: 1_000, staleTtl: 10_000, lruSize: 0 })
    const { state, loader } = origin()
    await a.get('doc', loader)
    clock.advance(1_500)
    await b.get('doc', loader)
    await until(() => state.notModified === 1)
    expect(state.seen[1]).toEqual({ etag: 'e1' })
    expect((await store.read('cond', 'doc')).record?.freshMs).toBe(1_000)
  })

  it('a changed origin answers in full, with its new meta', async () => {
    const { cache, clock } = cacheWithClock<Doc>({ ttl: 1_000, staleTtl: 10_000 })
    const { state, loader } = origin()
    await cache.get('doc', loader)
    state.etag = 'e2'
    state.body = 'two'
    clock.advance(1_500)
    await cache.get('doc', loader)
    await until(() => cache.peek('doc')?.value?.body === 'two')
    clock.advance(1_500)
    await cache.get('doc', loader)
    await until(() => state.notModified === 1)
    expect(state.seen[2]).toEqual({ etag: 'e2' })
  })

  it('never brings back a value overwritten while the loader ran (set, delete)', async () => {
    for (const change of ['set', 'delete'] as const) {
      const { cache, clock, store } = cacheWithClock<Doc>({ ttl: 1_000, staleTtl: 10_000 })
      const { loader: answer } = origin()
      await cache.get('doc', answer)
      clock.advance(1_500)
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      let answered = false
      let called = false
      const slow = async (key: string, ctx: LoaderContext<Doc>) => {
        called = true
        await gate
        answered = true
        return answer(key, ctx)
      }
      await cache.get('doc', slow) // serves stale, refresh waits at the gate
      await until(() => called)
      if (change === 'set') await cache.set('doc', { body: 'newer' })
      else await cache.delete('doc')
      release()
      await until(() => answered)
      await new Promise((resolve) => setTimeout(resolve, 10))
      const held = await store.read('test', 'doc')
      if (change === 'set') {
        expect(cache.peek('doc')?.value).toEqual({ body: 'newer' })
        expect(held.record?.data).toBeDefined()
        expect(await cache.get('doc')).toEqual({ body: 'newer' })
      } else {
        expect(held.record).toBeUndefined()
        expect(cache.peek('doc')).toBeUndefined()
      }
    }
  })

  it('never brings back a record that expired from the store while the loader ran', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const a = new TierCache<Doc>({ name: 'expired', store, clock, ttl: 1_000, staleTtl: 1_000, lruSize: 0 })
    const { loader: answer } = origin()
    await a.get('doc', answer)
    clock.advance(1_500) // stale, inside its window
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let answered = false
    await a.get('doc', async (key, ctx) => {
      await gate
      clock.advance(1_000) // the record's kept time ends while the origin is asked
      answered = true
      return answer(key, ctx)
    })
    release()
    await until(() => answered)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect((await store.read('expired', 'doc')).record).toBeUndefined()
  })

  it('NOT_MODIFIED with no previous value fails the load with a LoaderError', async () => {
    const cache = new TierCache<Doc>({ name: 'cond-none' })
    await expect(cache.get('doc', () => NOT_MODIFIED)).rejects.toBeInstanceOf(LoaderError)
    await expect(cache.get('doc', () => NOT_MODIFIED)).rejects.toThrow(/no previous value/)
  })

  it('a store without touch gets a fenced rewrite instead', async () => {
    const clock = new ManualClock()
    const memory = new MemoryStore({ clock })
    const { touch: _touch, ...rest } = Object.fromEntries(
      ['name', 'get', 'getMany', 'read', 'readMany', 'set', 'setMany', 'delete', 'purge', 'lock'].map((k) => [
        k,
        typeof (memory as never)[k] === 'function'
          ? ((memory as never)[k] as Function).bind(memory)
          : (memory as never)[k],
      ]),
    ) as SharedStore
    const store = rest as SharedStore
    expect(store.touch).toBeUndefined()
    const cache = new TierCache<Doc>({ name: 'no-touch', store, clock, ttl: 1_000, staleTtl: 10_000 })
    const { state, loader } = origin()
    await cache.get('doc', loader)
    clock.advance(1_500)
    await cache.get('doc', loader)
    await until(() => state.notModified === 1)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect((await memory.read('no-touch', 'doc')).record?.freshMs).toBe(1_000)
  })
})

describe('ctx.meta misuse: a TypeError that names ctx.meta and says what to do', () => {
  it('meta the codec cannot keep (a function, a class instance) rejects naming ctx.meta, not the value', async () => {
    const { cache } = cacheWithClock<Doc>({ ttl: 1_000 })
    const withMeta = (meta: unknown) => (_key: string, ctx: LoaderContext<Doc>) => {
      ctx.meta = meta
      return { body: 'b' }
    }
    await expect(
      cache.get(
        'fn',
        withMeta(() => 'etag'),
      ),
    ).rejects.toThrow(/^ctx\.meta of key "fn" at \(the value itself\) is a function.*plain data such as \{ etag \}/)
    class Validator {
      etag = 'e1'
    }
    await expect(cache.get('instance', withMeta({ etag: new Validator() }))).rejects.toThrow(
      /^ctx\.meta of key "instance" at \.etag .*plain data such as \{ etag \}/,
    )
    // Nothing was cached under a meta that could not be stored.
    expect(cache.peek('fn')).toBeUndefined()
  })

  it('a NOT_MODIFIED answer with meta the codec cannot keep is refused the same way', async () => {
    // Kept for resurrection, not served stale: the caller waits for the load and sees its error.
    const { cache, clock } = cacheWithClock<Doc>({ ttl: 1_000, resurrectTtl: 10_000 })
    await cache.get('doc', () => ({ body: 'b' }))
    clock.advance(1_500)
    await expect(
      cache.get('doc', (_key, ctx) => {
        ctx.meta = { at: new Date(0), check: () => true }
        return NOT_MODIFIED
      }),
    ).rejects.toThrow(/^ctx\.meta of key "doc" at \.check is a function/)
  })

  it('a getMany bulk loader that answers NOT_MODIFIED fails saying so; the marker is never cached as a value', async () => {
    const { cache } = cacheWithClock<Doc>({ ttl: 1_000 })
    const failed = await cache.getMany(['a'], async () => [NOT_MODIFIED] as never).catch((error: unknown) => error)
    expect(failed).toBeInstanceOf(LoaderError)
    expect(String((failed as LoaderError).cause)).toMatch(
      /TypeError: the bulk loader answered NOT_MODIFIED for "a", but getMany gives a bulk loader no previous value/,
    )
    expect(cache.peek('a')).toBeUndefined()
  })

  it('a getMany bulk loader that sets ctx.meta is told it is not kept there, not silently ignored', async () => {
    const { cache } = cacheWithClock<Doc>({ ttl: 1_000 })
    const bulk = async (keys: readonly string[], ctx: object) => {
      ;(ctx as { meta?: unknown }).meta = { etag: 'e1' }
      return keys.map((key) => ({ body: key }))
    }
    const failed = await cache.getMany(['a', 'b'], bulk).catch((error: unknown) => error)
    expect(failed).toBeInstanceOf(LoaderError)
    expect(String((failed as LoaderError).cause)).toMatch(
      /TypeError: ctx\.meta is not kept for values loaded by getMany.*use get\(key, loader\)/,
    )
  })
})
