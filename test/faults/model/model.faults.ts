// Model-based tests: random sequences of get/set/delete/purge/time/loader
// failures, replayed on a TierCache and on the reference model (model.ts);
// fast-check shrinks any disagreement to a minimal sequence.
import { MemoryStore, preciseClock, TierCache } from '@tiercache/core'
import { RedisStore } from '@tiercache/redis'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../../helpers/redis-servers.js'
import type { CacheModel, Command, ModelOptions } from './model.js'
import { replay, type TimeDriver } from './replay.js'

const SMOKE = process.env.FAULTS_SMOKE === '1'
/** The faults suite's ports are 7060-7079; this file's server. */
const PORT = 7061

const keys = fc.constantFrom('a', 'b')

/** Commands with durations in `unit` ms. */
const commandsOf = (unit: number, maxLength: number) =>
  fc.array(
    fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant('get' as const),
          key: keys,
          outcome: fc.constantFrom('value' as const, 'value' as const, 'null' as const, 'throw' as const),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('peek-get' as const), key: keys }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('set' as const), key: keys, miss: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: keys }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'purge' as const }) },
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('advance' as const),
          ms: fc.constantFrom(1, 50, 99, 100, 101, 150, 250, 400).map((ms) => (ms * unit) / 100),
        }),
      },
    ) as fc.Arbitrary<Command>,
    { maxLength },
  )

const optionsOf = (unit: number): fc.Arbitrary<ModelOptions> =>
  fc
    .record({
      ttl: fc.constantFrom(0, 100, 200),
      negTtl: fc.constantFrom(0, 50, 100),
      staleTtl: fc.constantFrom(0, 100, 300),
      resurrectTtl: fc.constantFrom(0, 100, 250),
      refreshRetryDelay: fc.constantFrom(50, 200),
    })
    .map((o) => ({
      ttl: (o.ttl * unit) / 100,
      negTtl: (o.negTtl * unit) / 100,
      staleTtl: (o.staleTtl * unit) / 100,
      resurrectTtl: (o.resurrectTtl * unit) / 100,
      refreshRetryDelay: (o.refreshRetryDelay * unit) / 100,
    }))

const tick = () => new Promise((resolve) => setImmediate(resolve))
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Two properties per store, so one known defect does not hide the others:
 * the lifetime (values, staleness, loader calls) and the reported hitLevel.
 */
const aspects = [
  { name: 'values, staleness and loader calls', compare: { hitLevel: false } },
  { name: 'hitLevel as documented', compare: { hitLevel: true } },
] as const

describe('TierCache against the reference model', () => {
  describe('MemoryStore, injected clock', () => {
    for (const { name, compare } of aspects) {
      it(name, async () => {
        await fc.assert(
          fc.asyncProperty(optionsOf(100), commandsOf(100, 25), async (options, commands) => {
            const clock = { t: 1_000_000, now: () => clock.t }
            const cache = new TierCache<string>({ name: 'model', store: new MemoryStore({ clock }), clock, ...options })
            cache.on('error', () => {})
            const time: TimeDriver = {
              before: async () => clock.t,
              advance: async (ms) => {
                clock.t += ms
              },
              settle: async () => {
                for (let i = 0; i < 5; i++) await tick()
              },
            }
            await replay(commands, options, cache, time, compare)
          }),
          { numRuns: Number(process.env.MODEL_RUNS ?? (SMOKE ? 300 : 3_000)) },
        )
      })
    }
  })

  describe('RedisStore, real clock (steps kept away from expiry boundaries)', () => {
    let server: RedisServer
    let store: RedisStore
    let run = 0
    /** Durations are 4x the memory run's: steps stay EDGE_MS away from every boundary. */
    const UNIT = 400
    const EDGE_MS = 60

    beforeAll(async () => {
      server = await startRedisServer(PORT)
      store = new RedisStore({ url: server.url, prefix: 'faults-model:' })
    })
    afterAll(async () => {
      await store?.close()
      await server?.stop()
    })

    for (const { name, compare } of aspects) {
      it(name, async () => {
        await fc.assert(
          fc.asyncProperty(optionsOf(UNIT), commandsOf(UNIT, 12), async (options, commands) => {
            const cache = new TierCache<string>({ name: `model-${++run}`, store, clock: preciseClock, ...options })
            cache.on('error', () => {})
            const time: TimeDriver = {
              before: async (model: CacheModel) => {
                // Wait until no boundary of the model is within EDGE_MS of now: the cache's writes land a few
                // ms after the step starts, so a step right on a boundary could go either way.
                for (;;) {
                  const now = Date.now()
                  const near = model.boundaries().find((b) => Math.abs(now - b) < EDGE_MS)
                  if (near === undefined) return now
                  await sleep(near + EDGE_MS - now + 1)
                }
              },
              advance: (ms) => sleep(ms),
              settle: () => sleep(20),
            }
            try {
              await replay(commands, options, cache, time, compare)
            } finally {
              cache.close()
            }
          }),
          { numRuns: SMOKE ? 3 : compare.hitLevel ? 10 : 30 },
        )
      })
    }
  })
})
