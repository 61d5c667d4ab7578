/**
 * One node of the faults suite: a process with its own TierCache, RedisStore
 * and RedisPubSubIpc bus, built from the packages' dist/ as an application
 * would import them. Driven by fleet.ts; reports every call as it is invoked
 * and as it completes, and every loader call, so a node paused, blocked or
 * killed mid-call still leaves its history behind.
 */
import { tracingChannel } from 'node:diagnostics_channel'
import { TierCache } from '../../../packages/core/dist/index.js'
import { RedisPubSubIpc } from '../../../packages/ipc/dist/index.js'
import { RedisStore } from '../../../packages/redis/dist/index.js'
import type { OperationKind } from '../history/history.js'
import { hostNow } from '../history/host-clock.js'
import type { NodeConfig, NodeMessage, ParentMessage, Workload } from './protocol.js'

const config = JSON.parse(process.argv[2]!) as NodeConfig
const send = (message: NodeMessage) => process.send!(message)
const now = hostNow
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const store = new RedisStore({ url: config.url, prefix: config.prefix })
// The store reports connection failures here; the history shows their effect.
store.on('error', () => {})
store.on('warning', (warning) => send({ type: 'warning', code: warning.code, policy: warning.policy, at: now() }))
const subscriber = store.client.duplicate()
subscriber.on('error', () => {})
const ipc = new RedisPubSubIpc({
  publisher: store.client,
  subscriber,
  channel: config.channel,
  maxStalenessMs: config.maxStalenessMs,
})
ipc.on('error', () => {})

/**
 * Per key, when the last store read of it that succeeded was sent (from the
 * core's `tiercache:store` trace): a loader call reports it, so the checker
 * knows which writes the load could have seen.
 */
const readSentAt = new Map<string, number>()
tracingChannel<string, { operation: string; key?: string; sentAt?: number; error?: unknown }>(
  'tiercache:store',
).subscribe({
  start: (trace) => {
    if (trace.operation === 'get') trace.sentAt = now()
  },
  end: () => {},
  asyncStart: () => {},
  asyncEnd: (trace) => {
    if (
      trace.operation === 'get' &&
      trace.key !== undefined &&
      trace.sentAt !== undefined &&
      trace.error === undefined
    ) {
      readSentAt.set(trace.key, trace.sentAt)
    }
  },
  error: () => {},
})

let cache: TierCache<string> | undefined
let running = false
let seq = 0
const inFlight = new Set<Promise<void>>()
let blockAfterSet = 0

function busyLoop(ms: number): void {
  const from = now()
  while (now() - from < ms) {
    // the event loop is blocked on purpose: timers, sockets and messages wait
  }
  send({ type: 'blocked', from, to: now() })
}

function pick(mix: Workload['mix']): OperationKind {
  const kinds = Object.keys(mix) as OperationKind[]
  let r = Math.random() * kinds.reduce((sum, kind) => sum + mix[kind], 0)
  for (const kind of kinds) {
    r -= mix[kind]
    if (r < 0) return kind
  }
  return 'get'
}

/** Run one call on the cache and report it. */
async function call(workload: Workload, kind: OperationKind, key: string): Promise<void> {
  const c = cache!
  const id = `${config.name}${++seq}`
  const value = kind === 'set' ? `S|${config.name}|${seq}` : undefined
  send({ type: 'invoke', id, kind, ...(kind === 'purge' ? {} : { key }), ...(value ? { value } : {}), at: now() })
  try {
    if (kind === 'get') {
      const got = await c.getWithInfo(key, loader(workload))
      send({ type: 'complete', id, at: now(), ok: true, value: got.value, hitLevel: got.hitLevel })
    } else {
      if (kind === 'set') await c.set(key, value)
      else if (kind === 'delete') await c.delete(key)
      else await c.purge()
      const completed: NodeMessage = { type: 'complete', id, at: now(), ok: true }
      send(completed)
      if (kind === 'set' && blockAfterSet > 0) {
        const ms = blockAfterSet
        blockAfterSet = 0
        busyLoop(ms)
      }
    }
  } catch (error) {
    send({ type: 'complete', id, at: now(), ok: false, error: String(error).slice(0, 200) })
  }
}

function loader(workload: Workload) {
  return async (key: string) => {
    const value = `L|${config.name}|${++seq}`
    const decidedAt = readSentAt.get(key)
    send({ type: 'load', key, value, at: now(), ...(decidedAt === undefined ? {} : { decidedAt }) })
    await sleep(workload.loaderMs)
    send({ type: 'loaded', value, at: now() })
    return value
  }
}

async function loop(workload: Workload): Promise<void> {
  while (running) {
    const key = workload.keys[Math.floor(Math.random() * workload.keys.length)]!
    const done = call(workload, pick(workload.mix), key)
    inFlight.add(done)
    await done
    inFlight.delete(done)
    await sleep(Math.random() * workload.thinkMs)
  }
}

let current: Workload | undefined

process.on('message', async (message: ParentMessage) => {
  if (message.type === 'run') {
    current = message.workload
    readSentAt.clear()
    cache = new TierCache<string>({
      name: current.namespace,
      store,
      ipc,
      ttl: current.ttl,
      staleTtl: current.staleTtl,
    })
    cache.on('error', () => {})
    // A cache subscribes on creation; wait until the bus confirms it hears its namespace.
    while (!ipc.isLive(current.namespace)) await sleep(5)
    running = true
    for (let i = 0; i < current.concurrency; i++) void loop(current)
  } else if (message.type === 'stop') {
    running = false
    await Promise.race([Promise.all(inFlight), sleep(message.graceMs)])
    send({ type: 'stopped' })
  } else if (message.type === 'final') {
    for (const key of current!.keys) await call(current!, 'get', key)
    send({ type: 'final-done' })
  } else if (message.type === 'close') {
    cache?.close()
    cache = undefined
    send({ type: 'closed' })
  } else if (message.type === 'block') {
    busyLoop(message.ms)
  } else if (message.type === 'block-after-set') {
    blockAfterSet = message.ms
  } else if (message.type === 'read') {
    await call(current!, 'get', message.key)
    send({ type: 'read-done' })
  } else if (message.type === 'set-and-die') {
    await call(current!, 'set', message.key)
    // Synchronously after the report (a small IPC message is written at once), before any timer
    // (the bus's coalescing window) can publish the set.
    process.kill(process.pid, 'SIGKILL')
  } else if (message.type === 'exit') {
    cache?.close()
    await ipc.close?.()
    subscriber.disconnect()
    await store.close()
    process.exit(0)
  }
})

// Wait for the store's connection before reporting ready.
while (store.client.status !== 'ready') await sleep(10)
send({ type: 'ready', pid: process.pid })
