import type { InvalidationBus, InvalidationHandler } from '@tiercache/core'
import type { EventEmitter } from 'eventemitter3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { IpcError } from '../errors.js'
import type { IpcEvents } from '../events.js'
import { type Recorder, recorder } from './recorder.js'

/** A bus as the suite drives it: an `InvalidationBus` with this package's events, `flush` and `close`. */
export type TestBus = InvalidationBus & EventEmitter<IpcEvents> & { flush(): void; close(): Promise<void> }

/** What a transport's test file gives the suite. */
export interface BusFactory {
  /** Two nodes on one channel, with coalescing on (the default window or longer). */
  pair(): Promise<{ a: TestBus; b: TestBus; close(): Promise<void> }>
  /** Subscribe and resolve once messages for `namespace` are received (Redis: SUBSCRIBE acknowledged). */
  subscribe(bus: TestBus, namespace: string, handler: InvalidationHandler): Promise<() => void>
}

/**
 * The behaviour every invalidation transport must have, run by each
 * transport's tests against itself (as undici's `cacheStoreTests`). Call it at
 * the top level of a vitest test file; it registers a `describe` block.
 *
 * @example
 * ```ts
 * import { busConformanceSuite, type TestBus } from '@tiercache/ipc/testing'
 * busConformanceSuite('MyBus', {
 *   async pair() {
 *     const a = new MyBus(), b = new MyBus()
 *     return { a: a as TestBus, b: b as TestBus, close: () => Promise.all([a.close(), b.close()]).then(() => {}) }
 *   },
 *   async subscribe(bus, namespace, handler) { return bus.subscribe(namespace, handler) },
 * })
 * ```
 */
export function busConformanceSuite(name: string, factory: BusFactory): void {
  describe(`${name}: InvalidationBus conformance`, () => {
    let a: TestBus
    let b: TestBus
    let close: () => Promise<void>

    beforeEach(async () => {
      ;({ a, b, close } = await factory.pair())
    })
    afterEach(async () => {
      await close()
    })

    /** Make sure everything `a` published so far reached `b`: publish a marker and wait for it. */
    async function drained(onB: Recorder, namespace: string): Promise<void> {
      const marker = `marker:${Math.random()}`
      a.publish({ kind: 'delete', namespace, keys: [marker] })
      await onB.until(() => onB.keys().includes(marker))
    }

    it('evicts on the other node exactly the keys set, deleted or refreshed here', async () => {
      const onB = recorder()
      await factory.subscribe(b, 'users', onB)
      a.publish({ kind: 'set', namespace: 'users', keys: ['u:1'] })
      a.publish({ kind: 'delete', namespace: 'users', keys: ['u:2', 'u:3'] })
      a.publish({ kind: 'refresh', namespace: 'users', keys: ['u:4'] })
      await onB.until(() => onB.keys().length >= 4)
      expect(onB.keys().sort()).toEqual(['u:1', 'u:2', 'u:3', 'u:4'])
      expect(onB.count('invalidateAll')).toBe(0)
    })

    it('drops all of the other node L1 on purge', async () => {
      const onB = recorder()
      await factory.subscribe(b, 'users', onB)
      a.publish({ kind: 'purge', namespace: 'users', keys: [] })
      await onB.until(() => onB.count('invalidateAll') === 1)
      expect(onB.keys()).toEqual([])
    })

    it('never delivers a node its own messages', async () => {
      const onA = recorder()
      const onB = recorder()
      await factory.subscribe(a, 'users', onA)
      await factory.subscribe(b, 'users', onB)
      a.publish({ kind: 'set', namespace: 'users', keys: ['mine'] })
      await onB.until(() => onB.keys().includes('mine'))
      // b's message is published after a's reached b, so it reaches a after a's own.
      b.publish({ kind: 'set', namespace: 'users', keys: ['theirs'] })
      await onA.until(() => onA.keys().includes('theirs'))
      expect(onA.keys()).toEqual(['theirs'])
    })

    it('tells the other subscribers of the namespace on the same bus at once, never the publishing one', async () => {
      // Two caches of one name in one process on one bus: the bus drops its own messages when they come
      // back, so the publishing cache names itself (`from`) and its siblings hear the change directly.
      const publisher = recorder()
      const sibling = recorder()
      const onB = recorder()
      await factory.subscribe(a, 'users', publisher)
      await factory.subscribe(a, 'users', sibling)
      await factory.subscribe(b, 'users', onB)
      const sent = a.publish({ kind: 'set', namespace: 'users', keys: ['k'] }, publisher)
      expect(sibling.keys()).toEqual(['k'])
      await sent
      await onB.until(() => onB.keys().includes('k'))
      a.publish({ kind: 'purge', namespace: 'users', keys: [] }, publisher)
      expect(sibling.count('invalidateAll')).toBe(1)
      await onB.until(() => onB.count('invalidateAll') === 1)
      await drained(onB, 'users')
      expect(publisher.keys()).toEqual([])
      expect(publisher.count('invalidateAll')).toBe(0)
      expect(sibling.keys()).toEqual(['k'])
    })

    it('settles the promise of a publish once its message has been sent', async () => {
      const onB = recorder()
      await factory.subscribe(b, 'users', onB)
      let settled = false
      const sent = a.publish({ kind: 'set', namespace: 'users', keys: ['k'] })
      void sent?.then(() => {
        settled = true
      })
      // Coalesced: nothing has left yet.
      expect(settled).toBe(false)
      await sent
      await onB.until(() => onB.keys().includes('k'))
    })

    it('coalesces a burst of invalidations of the same keys', async () => {
      const onB = recorder()
      await factory.subscribe(b, 'users', onB)
      for (let i = 0; i < 1000; i++) a.publish({ kind: 'set', namespace: 'users', keys: [`hot:${i % 10}`] })
      await onB.until(() => new Set(onB.keys()).size === 10)
      await drained(onB, 'users')
      // 1000 publishes of 10 keys: one or two windows' worth of messages, not 1000.
      expect(onB.count('invalidate')).toBeLessThanOrEqual(4)
    })

    it('keeps namespaces apart', async () => {
      const users = recorder()
      const posts = recorder()
      await factory.subscribe(b, 'users', users)
      await factory.subscribe(b, 'posts', posts)
      a.publish({ kind: 'set', namespace: 'posts', keys: ['p:1'] })
      await drained(users, 'users')
      await posts.until(() => posts.keys().includes('p:1'))
      expect(users.keys().filter((key) => !key.startsWith('marker:'))).toEqual([])
      expect(posts.keys()).toEqual(['p:1'])
    })

    it('calls every handler of a namespace, and stops calling one that unsubscribed', async () => {
      const first = recorder()
      const second = recorder()
      const unsubscribe = await factory.subscribe(b, 'users', first)
      await factory.subscribe(b, 'users', second)
      a.publish({ kind: 'set', namespace: 'users', keys: ['k1'] })
      await first.until(() => first.keys().includes('k1'))
      await second.until(() => second.keys().includes('k1'))
      unsubscribe()
      a.publish({ kind: 'set', namespace: 'users', keys: ['k2'] })
      await drained(second, 'users')
      expect(second.keys()).toContain('k2')
      expect(first.keys()).not.toContain('k2')
    })

    it('reports a bad event as an error event, never by throwing from publish', async () => {
      const errors: IpcError[] = []
      a.on('error', (error) => errors.push(error))
      const bad = { kind: 'upsert', namespace: 'users', keys: ['k'] } as never
      expect(() => a.publish(bad)).not.toThrow()
      expect(() => a.publish({ kind: 'set', namespace: 'users', keys: [1] } as never)).not.toThrow()
      expect(() => a.publish(null as never)).not.toThrow()
      expect(errors).toHaveLength(3)
      expect(errors[0]).toBeInstanceOf(IpcError)
      expect(errors[0]!.code).toBe('TIERCACHE_IPC')
      expect(errors[0]!.operation).toBe('publish')
      expect(String(errors[0]!.cause)).toMatch(/event.kind/)
    })

    it('reports a handler that throws and still calls the others', async () => {
      const errors: IpcError[] = []
      b.on('error', (error) => errors.push(error))
      const thrower = recorder()
      const good = recorder()
      await factory.subscribe(b, 'users', {
        ...thrower,
        invalidate: () => {
          throw new Error('handler broke')
        },
      })
      await factory.subscribe(b, 'users', good)
      a.publish({ kind: 'set', namespace: 'users', keys: ['k'] })
      await good.until(() => good.keys().includes('k'))
      expect(errors.map((error) => [error.operation, error.namespace])).toEqual([['handler', 'users']])
    })

    it('rejects a handler that is not one, naming the argument', () => {
      expect(() => a.subscribe('users', {} as never)).toThrow(/handler/)
      expect(() => a.subscribe(1 as never, recorder())).toThrow(/namespace/)
    })
  })
}
