import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/**
 * Runs `script` (a .ts file beside the scenarios) in a fresh Node process
 * with tsx and --expose-gc, sends it `input` over IPC and resolves with the
 * first message it sends back. A fresh process is for what must not share
 * JIT or heap state with other contenders (codec variants that share one
 * library's module-level decoder, heap measurements).
 */
export function runChild<I, O>(script: URL, input: I, extraArgs: readonly string[] = []): Promise<O> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(script), [...extraArgs], {
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let answered = false
    child.once('message', (message) => {
      answered = true
      resolve(message as O)
      child.disconnect()
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      if (!answered) reject(new Error(`${script.pathname} exited with ${code} before answering`))
    })
    child.send(input as object)
  })
}

/** In a child started by {@link runChild}: waits for the input, runs `work`, sends its result back. */
export function serveChild<I, O>(work: (input: I) => Promise<O>): void {
  process.once('message', async (input) => {
    try {
      process.send!(await work(input as I))
    } catch (error) {
      console.error(error)
      process.exit(1)
    }
  })
}

/** A child kept running across requests, so rounds of several children can be interleaved. */
export interface ChildSession<Q, A> {
  /** Send `request`; resolves with the child's next message. */
  request(request: Q): Promise<A>
  /** Ask the child to exit (a `null` request) and wait for it. */
  close(): Promise<void>
}

/**
 * Start `script` (see {@link runChild}) and keep it: every `request` is one
 * message each way. The child serves with {@link serveRequests}.
 */
export function openChild<Q, A>(script: URL): ChildSession<Q, A> {
  const child = fork(fileURLToPath(script), [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  let exited: Error | undefined
  const waiting: { resolve: (a: A) => void; reject: (e: Error) => void }[] = []
  child.on('message', (message) => waiting.shift()?.resolve(message as A))
  child.once('exit', (code) => {
    exited = new Error(`${script.pathname} exited with ${code}`)
    for (const w of waiting.splice(0)) w.reject(exited)
  })
  return {
    request(request) {
      if (exited) return Promise.reject(exited)
      return new Promise<A>((resolve, reject) => {
        waiting.push({ resolve, reject })
        child.send(request as object)
      })
    },
    close() {
      if (exited) return Promise.resolve()
      return new Promise((resolve) => {
        child.once('exit', () => resolve())
        child.send({ close: true })
      })
    },
  }
}

/** In a child started by {@link openChild}: answers each request with `work`'s result; exits on `{ close: true }`. */
export function serveRequests<Q, A>(work: (request: Q) => Promise<A>): void {
  process.on('message', async (request) => {
    if ((request as { close?: boolean }).close === true) {
      process.exit(0)
    }
    try {
      process.send!(await work(request as Q))
    } catch (error) {
      console.error(error)
      process.exit(1)
    }
  })
}
