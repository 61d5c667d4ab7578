import { describe, expectTypeOf, it } from 'vitest'
import { type GetInfo, type LoaderContext, type PeekResult, TierCache, type TierCacheError } from '../src/index.js'

interface User {
  id: number
  name: string
}

describe('public generics', () => {
  it('types values, loaders and results by the cache value type', async () => {
    const users = new TierCache<User>({ name: 'typed' })
    expectTypeOf(users.get('k', async () => ({ id: 1, name: 'a' }))).toEqualTypeOf<Promise<User | undefined>>()
    expectTypeOf(users.getWithInfo('k')).toEqualTypeOf<Promise<GetInfo<User>>>()
    expectTypeOf(users.getMany(['a'], async (keys) => keys.map(() => null))).toEqualTypeOf<
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
