import { Worker } from 'node:worker_threads'
import { busConformanceSuite, ChaosBus, recorder, type TestBus } from '@tiercache/ipc/testing'
import { describe, expect, it } from 'vitest'
import { BroadcastChannelIpc } from '../src/broadcast-channel.js'
import { resolveIpcOptions } from '../src/options.js'

let channelCount = 0

busConformanceSuite('BroadcastChannelIpc', {
  async pair() {
    const channel = `conformance-${channelCount++}`
    const a = new BroadcastChannelIpc({ channel })
    const b = new BroadcastChannelIpc({ channel })
    return {
      a: a as TestBus,
      b: b as TestBus,
      close: async () => {
        await Promise.all([a.close(), b.close()])
      },
    }
  },
  // Delivery starts with the subscription: there is no connection to wait for.
  async subscribe(bus, namespace, handler) {
    return bus.subscribe(namespace, handler)
  },
})

// The chaos wrapper in `ok` mode must be a bus like any other.
busConformanceSuite('ChaosBus(BroadcastChannelIpc)', {
  async pair() {
    const channel = `chaos-conformance-${channelCount++}`
    const a = new ChaosBus(new BroadcastChannelIpc({ channel }) as TestBus)
    const b = new ChaosBus(new BroadcastChannelIpc({ channel }) as TestBus)
    return {
      a,
      b,
      close: async () => {
        await Promise.all([a.close(), b.close()])
      },
    }
  },
  async subscribe(bus, namespace, handler) {
    return bus.subscribe(namespace, handler)
  },
})

describe('ChaosBus', () => {
  /** Two nodes on a fresh channel, `b` wrapped in chaos, with a recorder subscribed on `b`. */
  function chaosPair(options: ConstructorParameters<typeof ChaosBus>[1] = {}) {
    const channel = `chaos-${channelCount++}`
    const a = new BroadcastChannelIpc({ channel, coalesceMs: 1 })
    const b = new ChaosBus(new BroadcastChannelIpc({ channel, coalesceMs: 1 }) as TestBus, options)
    const onB = recorder()
    b.subscribe('users', onB)
    const close = () => Promise.all([a.close(), b.close()])
    return { a, b, onB, close }
  }

  it('loses what arrives in drop mode, and delivers again once ok', async () => {
    const { a, b, onB, close } = chaosPair()
    b.mode = 'drop'
    a.publish({ kind: 'set', namespace: 'users', keys: ['lost'] })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(b.received.get('invalidate')).toBe(1)
    b.mode = 'ok'
    a.publish({ kind: 'set', namespace: 'users', keys: ['kept'] })
    await onB.until(() => onB.keys().includes('kept'))
    expect(onB.keys()).toEqual(['kept'])
    await close()
  })

  it('delivers late in delay mode', async () => {
    const { a, b, onB, close } = chaosPair({ delayMs: 150 })
    b.mode = 'delay'
    const sent = Date.now()
    a.publish({ kind: 'purge', namespace: 'users', keys: [] })
    await onB.until(() => onB.count('invalidateAll') === 1)
    expect(Date.now() - sent).toBeGreaterThanOrEqual(140)
    await close()
  })

  it('tells handlers it disconnected, loses messages meanwhile, and tells them it reconnected', async () => {
    const { a, b, onB, close } = chaosPair({ maxStalenessMs: 250 })
    const events: string[] = []
    b.on('disconnected', (info) => events.push(`disconnected:${info.namespace}:${info.reason}`))
    b.on('reconnected', (info) => events.push(`reconnected:${info.namespace}`))
    b.mode = 'disconnect'
    a.publish({ kind: 'set', namespace: 'users', keys: ['missed'] })
    await new Promise((resolve) => setTimeout(resolve, 50))
    b.mode = 'ok'
    a.publish({ kind: 'set', namespace: 'users', keys: ['after'] })
    await onB.until(() => onB.keys().includes('after'))
    expect(onB.calls).toEqual([
      { method: 'disconnected', maxStalenessMs: 250 },
      { method: 'reconnected' },
      { method: 'invalidate', keys: ['after'] },
    ])
    expect(events).toEqual(['disconnected:users:chaos', 'reconnected:users'])
    await close()
  })

  it('cancels delayed deliveries on close', async () => {
    const { a, b, onB, close } = chaosPair({ delayMs: 100 })
    b.mode = 'delay'
    a.publish({ kind: 'set', namespace: 'users', keys: ['late'] })
    await new Promise((resolve) => setTimeout(resolve, 30))
    await close()
    await new Promise((resolve) => setTimeout(resolve, 120))
    // The delayed invalidation never arrives; the closed bus says it is disconnected (bus closed).
    expect(onB.calls).toEqual([{ method: 'disconnected', maxStalenessMs: 0 }])
  })

  it('rejects an inner bus that is not one, naming the argument', () => {
    expect(() => new ChaosBus({} as never)).toThrow(TypeError)
    expect(() => new ChaosBus(null as never)).toThrow(/inner/)
  })
})

type WorkerReport =
  | { type: 'ready'; nodeId: string }
  | { type: 'invalidate'; keys: string[]; nodeId: string }
  | { type: 'invalidateAll' | 'disconnected' | 'reconnected'; nodeId: string }

/** A worker thread running `broadcast-worker.ts` (through tsx, @tiercache/* from source). */
function startWorker(channel: string, namespace: string) {
  const worker = new Worker(new URL('./ts-worker.mjs', import.meta.url), {
    workerData: { script: new URL('./broadcast-worker.ts', import.meta.url).href, channel, namespace },
  })
  const reports: WorkerReport[] = []
  worker.on('message', (report: WorkerReport) => reports.push(report))
  const until = async (predicate: (r: WorkerReport[]) => boolean, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs
    while (!predicate(reports)) {
      if (Date.now() > deadline) throw new Error(`worker reports: ${JSON.stringify(reports)}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
  const keys = () => reports.flatMap((r) => (r.type === 'invalidate' ? r.keys : []))
  return { worker, reports, until, keys }
}

describe('BroadcastChannelIpc across worker threads', () => {
  it('carries invalidations between the main thread and two workers, never back to the sender', async () => {
    const main = new BroadcastChannelIpc({ channel: 'workers' })
    const onMain = recorder()
    main.subscribe('users', onMain)
    const one = startWorker('workers', 'users')
    const two = startWorker('workers', 'users')
    try {
      await one.until((r) => r.some((x) => x.type === 'ready'))
      await two.until((r) => r.some((x) => x.type === 'ready'))

      main.publish({ kind: 'set', namespace: 'users', keys: ['from-main'] })
      await one.until(() => one.keys().includes('from-main'))
      await two.until(() => two.keys().includes('from-main'))

      one.worker.postMessage({ type: 'publish', keys: ['from-one'] })
      await onMain.until(() => onMain.keys().includes('from-one'), 15_000)
      await two.until(() => two.keys().includes('from-one'))

      two.worker.postMessage({ type: 'publish', keys: ['from-two'] })
      await onMain.until(() => onMain.keys().includes('from-two'), 15_000)
      await one.until(() => one.keys().includes('from-two'))

      expect(onMain.keys()).toEqual(['from-one', 'from-two'])
      expect(one.keys()).toEqual(['from-main', 'from-two'])
      expect(two.keys()).toEqual(['from-main', 'from-one'])
      // An in-process channel is never disconnected.
      expect(onMain.count('disconnected') + one.reports.filter((r) => r.type === 'disconnected').length).toBe(0)
    } finally {
      await main.close()
      await Promise.all([one.worker.terminate(), two.worker.terminate()])
    }
  })

  it('takes coalesceMs as ms or a duration string', () => {
    expect(resolveIpcOptions({ coalesceMs: '20ms' }).coalesceMs).toBe(20)
    expect(resolveIpcOptions({ coalesceMs: '1s' }).coalesceMs).toBe(1_000)
    expect(resolveIpcOptions({}).coalesceMs).toBe(2)
  })

  it('rejects a missing channel name with a TypeError', () => {
    expect(() => new BroadcastChannelIpc({ channel: '' })).toThrow(/options.channel/)
    expect(() => new BroadcastChannelIpc({ channel: 'x', coalesceMs: -1 })).toThrow(/options.coalesceMs/)
    expect(() => new BroadcastChannelIpc({ channel: 'x', coalesceMs: '2 ms' as never })).toThrow(
      /options\.coalesceMs must be a duration/,
    )
    expect(() => new BroadcastChannelIpc({ channel: 'x', coalesceMS: 1 } as never)).toThrow(
      /options\.coalesceMS is not an option; valid options: nodeId, coalesceMs, maxBatchKeys, channel/,
    )
  })
})
