import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = fileURLToPath(new URL('../../', import.meta.url))
const src = (pkg: string, file = 'index.ts') => `${root}packages/${pkg}/src/${file}`

// The faults suite (`pnpm test:faults`): files named *.faults.ts, so `pnpm test`
// (which runs *.test.ts) leaves them out: they need the whole machine for minutes.
// FAULTS_SMOKE=1 (`pnpm test:faults:smoke`) runs the subset CI runs (.ci/run).
export default defineConfig({
  root,
  resolve: {
    alias: [
      { find: /^@tiercache\/core\/testing$/, replacement: src('core', 'testing/index.ts') },
      { find: /^@tiercache\/(core|redis|ipc|http)$/, replacement: `${root}packages/$1/src/index.ts` },
    ],
  },
  test: {
    include: ['test/faults/**/*.faults.ts'],
    globalSetup: ['test/setup/redis.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    // Node processes, redis-servers and the nemesis need both cores to themselves.
    fileParallelism: false,
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    reporters: ['default'],
  },
})
