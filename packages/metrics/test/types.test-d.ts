import { TierCache } from '@tiercache/core'
import { HttpCache, type HttpCacheValue } from '@tiercache/http'
import { expectTypeOf, test } from 'vitest'
import { type Instrumentation, instrument } from '../src/index.js'

test('instrument takes a TierCache of any value type, or an HttpCache', () => {
  expectTypeOf(instrument(new TierCache<{ id: number }>())).toEqualTypeOf<Instrumentation>()
  expectTypeOf(instrument(new TierCache<string>())).toEqualTypeOf<Instrumentation>()
  const cache = new TierCache<HttpCacheValue>({ name: 'pages' })
  expectTypeOf(instrument(new HttpCache({ cache }))).toEqualTypeOf<Instrumentation>()
  // @ts-expect-error: not a cache
  instrument({ name: 'x' })
})
