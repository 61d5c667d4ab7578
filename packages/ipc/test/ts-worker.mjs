// Entry of worker threads that run a TypeScript file: registers tsx in the
// worker (with test/ipc/tsconfig.json, which maps @tiercache/* to sources)
// before importing it. `execArgv: ['--import', 'tsx']` does not reach workers
// started from inside vitest.
import { workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register({ tsconfig: new URL('../../../test/ipc/tsconfig.json', import.meta.url).pathname })
await import(workerData.script)
