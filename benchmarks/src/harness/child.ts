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
