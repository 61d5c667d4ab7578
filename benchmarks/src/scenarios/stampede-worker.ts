/**
 * Child process of the stampede scenario. Stays up for the whole scenario and
 * runs one library per job: `prepare` builds it (connections open, nothing
 * loaded), `go` fires all its calls at an agreed wall-clock instant and
 * reports how many times its loader ran and when the last answer came.
 */
import { performance } from 'node:perf_hooks'
import type { AdapterOptions, CacheAdapter } from '../contenders/adapter.js'
import { factoryOf, type Library } from '../contenders/registry.js'
import { makeValue } from '../data/value.js'

/** Parent → child. */
export type StampedeCommand =
  | { type: 'prepare'; library: Library; options: Omit<AdapterOptions, 'loader'>; loaderMs: number }
  | { type: 'go'; key: string; calls: number; at: number }
  | { type: 'exit' }

/** Child → parent. */
export type StampedeReply =
  | { type: 'ready' }
  | { type: 'failed'; reason: string }
  | { type: 'done'; loaderCalls: number; lastAnswerAt: number; errors: number; wrong: number }

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const epochMs = (): number => performance.timeOrigin + performance.now()

let adapter: CacheAdapter | undefined
let loaderCalls = 0
const reply = (message: StampedeReply) => process.send!(message)

process.on('message', async (command: StampedeCommand) => {
  if (command.type === 'exit') process.exit(0)
  if (command.type === 'prepare') {
    loaderCalls = 0
    const factory = await factoryOf(command.library)
    if (typeof factory === 'string') return reply({ type: 'failed', reason: factory })
    try {
      adapter = await factory({
        ...command.options,
        loader: (key) => {
          loaderCalls++
          return new Promise((resolve) => setTimeout(() => resolve({ key, ...makeValue(1) }), command.loaderMs))
        },
      })
      return reply({ type: 'ready' })
    } catch (error) {
      return reply({ type: 'failed', reason: error instanceof Error ? error.message : String(error) })
    }
  }
  const current = adapter!
  const wait = command.at - epochMs()
  if (wait > 2) await new Promise((resolve) => setTimeout(resolve, wait - 2))
  while (epochMs() < command.at) {}
  let lastAnswerAt = 0
  let errors = 0
  let wrong = 0
  await Promise.all(
    Array.from({ length: command.calls }, () =>
      current.get(command.key).then(
        (value) => {
          if ((value as { key?: string } | undefined)?.key !== command.key) wrong++
          lastAnswerAt = Math.max(lastAnswerAt, epochMs())
        },
        () => {
          errors++
          lastAnswerAt = Math.max(lastAnswerAt, epochMs())
        },
      ),
    ),
  )
  await current.close()
  adapter = undefined
  reply({ type: 'done', loaderCalls, lastAnswerAt, errors, wrong })
})
