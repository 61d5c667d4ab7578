import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (pkg: string, file = 'index.ts') => fileURLToPath(new URL(`./packages/${pkg}/src/${file}`, import.meta.url))

// Tests import the TypeScript sources, so a unit test never runs against a stale
// dist/. Child processes spawned by multi-process tests import the built
// packages; `pnpm test` builds first.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@tiercache\/core\/testing$/, replacement: src('core', 'testing/index.ts') },
      { find: /^@tiercache\/ipc\/testing$/, replacement: src('ipc', 'testing/index.ts') },
      {
        find: /^@tiercache\/(core|redis|ipc|http|proxy|metrics)$/,
        replacement: fileURLToPath(new URL('./packages/$1/src/index.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/setup/redis.ts'],
    // Typing tests of the public generics: checked by tsc, not run.
    typecheck: { enabled: true, include: ['packages/*/test/**/*.test-d.ts'], tsconfig: './tsconfig.test.json' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Multi-process and Redis-killing tests must not fight over 2 cores.
    fileParallelism: false,
    reporters: ['default'],
  },
})
