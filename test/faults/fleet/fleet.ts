/**
 * Parent side of the faults suite: start node processes (fleet-node.ts), run a
 * workload on all of them, and assemble what they report into one history.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { LoadCall, Operation, Span } from '../history/history.js'
import type { NodeConfig, NodeMessage, ParentMessage, Workload } from './protocol.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const nodeFile = fileURLToPath(new URL('./fleet-node.ts', import.meta.url))

/** One node process. */
export interface FleetNode {
  readonly name: string
  readonly child: ChildProcess
  readonly pid: number
  send(message: ParentMessage): void
  /** The next message of `type` from now on. */
  next(type: NodeMessage['type']): Promise<NodeMessage>
}

/** Calls and loads reported by the nodes, assembled as they come. */
export class Recorder {
  readonly #operations = new Map<string, Operation>()
  readonly loads = new Map<string, LoadCall>()
  /** Spans when a node's event loop was blocked on purpose. */
  readonly blocked: Span[] = []
  /** Warnings the nodes' stores emitted, with the node. */
  readonly warnings: { readonly node: string; readonly code: string; readonly policy?: string }[] = []

  receive(node: string, message: NodeMessage): void {
    if (message.type === 'invoke') {
      this.#operations.set(message.id, {
        id: message.id,
        node,
        kind: message.kind,
        ...(message.key === undefined ? {} : { key: message.key }),
        ...(message.value === undefined ? {} : { value: message.value }),
        invoke: message.at,
        complete: Number.POSITIVE_INFINITY,
      })
    } else if (message.type === 'complete') {
      const invoked = this.#operations.get(message.id)
      if (invoked === undefined) return
      this.#operations.set(message.id, {
        ...invoked,
        complete: message.at,
        ok: message.ok,
        ...(message.value === undefined ? {} : { value: message.value }),
        ...(message.hitLevel === undefined ? {} : { hitLevel: message.hitLevel }),
        ...(message.error === undefined ? {} : { error: message.error }),
      })
    } else if (message.type === 'load') {
      this.loads.set(message.value, {
        node,
        key: message.key,
        value: message.value,
        start: message.at,
        ...(message.decidedAt === undefined ? {} : { decidedAt: message.decidedAt }),
        end: Number.POSITIVE_INFINITY,
      })
    } else if (message.type === 'loaded') {
      const load = this.loads.get(message.value)
      if (load !== undefined) this.loads.set(message.value, { ...load, end: message.at })
    } else if (message.type === 'blocked') {
      this.blocked.push({ from: message.from, to: message.to })
    } else if (message.type === 'warning') {
      this.warnings.push({
        node,
        code: message.code,
        ...(message.policy === undefined ? {} : { policy: message.policy }),
      })
    }
  }

  get operations(): Operation[] {
    return [...this.#operations.values()].sort((a, b) => a.invoke - b.invoke)
  }

  /** Forget everything (between two workloads). */
  clear(): void {
    this.#operations.clear()
    this.loads.clear()
    this.blocked.length = 0
    this.warnings.length = 0
  }
}

/** Build the packages the nodes import from dist/. */
export function buildPackages(): void {
  execFileSync(`${root}node_modules/.bin/tsc`, ['-b', 'packages/redis', 'packages/ipc'], {
    cwd: root,
    stdio: 'inherit',
  })
}

/** Start one node per name; every message goes to `recorder`. */
export async function startFleet(
  names: readonly string[],
  config: Omit<NodeConfig, 'name'>,
  recorder: Recorder,
): Promise<FleetNode[]> {
  return Promise.all(names.map((name) => startNode({ ...config, name }, recorder)))
}

async function startNode(config: NodeConfig, recorder: Recorder): Promise<FleetNode> {
  const child = fork(nodeFile, [JSON.stringify(config)], {
    cwd: root,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const waiting = new Map<string, { resolve: (message: NodeMessage) => void; reject: (error: Error) => void }[]>()
  child.on('message', (message: NodeMessage) => {
    recorder.receive(config.name, message)
    const wakers = waiting.get(message.type)
    if (wakers !== undefined && wakers.length > 0) wakers.shift()!.resolve(message)
  })
  child.once('exit', (code, signal) => {
    const error = new Error(`node ${config.name} exited (${code ?? signal})`)
    for (const wakers of waiting.values()) for (const { reject } of wakers.splice(0)) reject(error)
  })
  const next = (type: NodeMessage['type']) =>
    new Promise<NodeMessage>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        return reject(new Error(`node ${config.name} has exited`))
      }
      const list = waiting.get(type) ?? []
      list.push({ resolve, reject })
      waiting.set(type, list)
    })
  const ready = await next('ready')
  return {
    name: config.name,
    child,
    pid: (ready as { pid: number }).pid,
    send: (message) => child.send(message),
    next,
  }
}

/** Ask every node to start `workload`. */
export function runWorkload(nodes: readonly FleetNode[], workload: Workload): void {
  for (const node of nodes) node.send({ type: 'run', workload })
}

/** Stop the workload on every node, wait `quietMs`, read every key on every node, close the caches. */
export async function finishWorkload(fleet: readonly FleetNode[], quietMs: number): Promise<void> {
  // A node the nemesis killed has nothing left to finish.
  const nodes = fleet.filter((node) => node.child.exitCode === null && node.child.signalCode === null)
  await Promise.all(
    nodes.map((node) => {
      const stopped = node.next('stopped')
      node.send({ type: 'stop', graceMs: 10_000 })
      return stopped
    }),
  )
  await new Promise((resolve) => setTimeout(resolve, quietMs))
  await Promise.all(
    nodes.map((node) => {
      const done = node.next('final-done')
      node.send({ type: 'final' })
      return done
    }),
  )
  await Promise.all(
    nodes.map((node) => {
      const closed = node.next('closed')
      node.send({ type: 'close' })
      return closed
    }),
  )
}

/** Ask every node to exit; kill those that do not within 5 s. */
export async function stopFleet(nodes: readonly FleetNode[]): Promise<void> {
  await Promise.all(
    nodes.map(
      (node) =>
        new Promise<void>((resolve) => {
          if (node.child.exitCode !== null || node.child.signalCode !== null) return resolve()
          const timer = setTimeout(() => node.child.kill('SIGKILL'), 5_000)
          node.child.once('exit', () => {
            clearTimeout(timer)
            resolve()
          })
          // A node stopped by the nemesis must run again to hear the request.
          node.child.kill('SIGCONT')
          node.send({ type: 'exit' })
        }),
    ),
  )
}
