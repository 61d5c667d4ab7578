import { describe, expectTypeOf, it } from 'vitest'
import {
  type GetInfo,
  type LoaderContext,
  NOT_MODIFIED,
  type PeekResult,
  TierCache,
  type TierCacheError,
} from '../src/index.js'

interface User {
  id: number
  name: string
}

describe('public generics', () => {
  it('types values, loaders and results by the cache value type', async () => {
    const users = new TierCache<User>({ name: 'typed' })
    expectTypeOf(users.get('k', async () => ({ id: 1, name: 'a' }))).toEqualTypeOf<Promise<User>>()
    expectTypeOf(users.getWithInfo('k')).toEqualTypeOf<Promise<GetInfo<User>>>()
    expectTypeOf(users.getMany(['a'], async (keys) => keys.map(() => null as User | null))).toEqualTypeOf<
      Promise<(User | undefined)[]>
    >()
    expectTypeOf(users.peek('k')).toEqualTypeOf<PeekResult<User> | undefined>()
    // a loader returning another type is a compile error
    // @ts-expect-error: string is not a User
    void users.get('k', async () => 'not a user')
    // @ts-expect-error: set takes a User
    void users.set('k', 42 as number)
    void users.get('k', (_key, ctx) => {
      expectTypeOf(ctx).toEqualTypeOf<LoaderContext<User>>()
      expectTypeOf(ctx.staleValue).toEqualTypeOf<User | undefined>()
      return null
    })
    users.on('error', (error, key) => {
      expectTypeOf(error).toEqualTypeOf<TierCacheError>()
      expectTypeOf(key).toEqualTypeOf<string | undefined>()
    })
  })
})

describe('get overloads: a loader that cannot miss resolves the value type', () => {
  const users = new TierCache<User>({ name: 'overloads' })
  const user: User = { id: 1, name: 'a' }
  const find = async (): Promise<User | null> => null

  it('(key): may miss', () => {
    expectTypeOf(users.get('k')).toEqualTypeOf<Promise<User | undefined>>()
    expectTypeOf(users.get('k', undefined)).toEqualTypeOf<Promise<User | undefined>>()
  })

  it('(key, loader): V when the loader returns V, sync or async', () => {
    expectTypeOf(users.get('k', async () => user)).toEqualTypeOf<Promise<User>>()
    expectTypeOf(users.get('k', () => user)).toEqualTypeOf<Promise<User>>()
    expectTypeOf(users.get('k', (_key, ctx) => ctx.staleValue ?? user)).toEqualTypeOf<Promise<User>>()
  })

  it('(key, loader): V | undefined when the loader may return null or undefined', () => {
    expectTypeOf(users.get('k', find)).toEqualTypeOf<Promise<User | undefined>>()
    expectTypeOf(users.get('k', async () => undefined)).toEqualTypeOf<Promise<User | undefined>>()
    expectTypeOf(users.get('k', (_key, ctx) => ctx.staleValue)).toEqualTypeOf<Promise<User | undefined>>()
  })

  it('(key, options, loader): the same two ways, options given or undefined', () => {
    expectTypeOf(users.get('k', { ttl: '5m' }, async () => user)).toEqualTypeOf<Promise<User>>()
    expectTypeOf(users.get('k', undefined, () => user)).toEqualTypeOf<Promise<User>>()
    expectTypeOf(users.get('k', { ttl: 1_000 }, find)).toEqualTypeOf<Promise<User | undefined>>()
    expectTypeOf(users.get('k', { ttl: 1_000 })).toEqualTypeOf<Promise<User | undefined>>()
  })

  it('negative: a maybe-missing result is not a V, and a wrong loader is refused', async () => {
    // @ts-expect-error: the loader may return null, so the result may be undefined
    const a: User = await users.get('k', find)
    // @ts-expect-error: no loader, so a miss resolves undefined
    const b: User = await users.get('k')
    // @ts-expect-error: with options too
    const c: User = await users.get('k', { ttl: 1 }, async () => undefined)
    // @ts-expect-error: a loader of another type is refused by every overload
    void users.get('k', { ttl: 1 }, async () => 'not a user')
    // @ts-expect-error: a duration string needs a unit
    void users.get('k', { ttl: '5' }, async () => user)
    void [a, b, c]
  })

  it('a loader that may answer NOT_MODIFIED still resolves V (the old value is kept)', () => {
    expectTypeOf(users.get('k', (_key, ctx) => (ctx.staleMeta ? NOT_MODIFIED : user))).toEqualTypeOf<Promise<User>>()
    expectTypeOf(users.get('k', async () => NOT_MODIFIED)).toEqualTypeOf<Promise<User>>()
    // @ts-expect-error: meta is unknown until narrowed
    void users.get('k', (_key, ctx) => ctx.staleMeta.etag)
  })

  it('a cache whose V includes undefined keeps it', () => {
    const maybe = new TierCache<string | undefined>({ name: 'maybe' })
    expectTypeOf(maybe.get('k', () => 'v')).toEqualTypeOf<Promise<string | undefined>>()
  })

  it('getMany: V[] when the bulk loader returns only values', async () => {
    expectTypeOf(users.getMany(['a'], async (keys) => keys.map(() => user))).toEqualTypeOf<Promise<User[]>>()
    expectTypeOf(users.getMany(['a'], { ttl: '1s' }, (keys) => keys.map(() => user))).toEqualTypeOf<Promise<User[]>>()
    expectTypeOf(users.getMany(['a'], async (keys) => keys.map(() => null))).toEqualTypeOf<
      Promise<(User | undefined)[]>
    >()
    expectTypeOf(users.getMany(['a'])).toEqualTypeOf<Promise<(User | undefined)[]>>()
    // @ts-expect-error: a bulk loader that may return null does not give User[]
    const d: User[] = await users.getMany(['a'], async (keys) => keys.map(() => null as User | null))
    void d
    // @ts-expect-error: softTimeout is not an option of getMany (refused at run time too)
    void users.getMany(['a'], { softTimeout: 10 }, (keys) => keys.map(() => user))
  })
})

describe('tags', () => {
  it('types ctx.tags, set({ tags, loadedBy }) and the tag operations', async () => {
    const users = new TierCache<User>({ name: 'typed-tags' })
    await users.get('k', async (_key, ctx) => {
      expectTypeOf(ctx.tags).toEqualTypeOf<string[]>()
      ctx.tags.push('users')
      await users.set('other', { id: 2, name: 'b' }, { tags: ['users'], loadedBy: ctx })
      return { id: 1, name: 'a' }
    })
    // @ts-expect-error: tags are strings
    await users.set('k', { id: 1, name: 'a' }, { tags: [1] })
    expectTypeOf(users.invalidateTag('users')).toEqualTypeOf<Promise<void>>()
    expectTypeOf(users.deleteTag('users')).toEqualTypeOf<Promise<void>>()
    expectTypeOf(users.warmTags()).toEqualTypeOf<Promise<void>>()
  })
})
