import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

interface Row {
  error: string
  from: 'esm' | 'cjs'
  instanceOf: Record<string, boolean>
}

// What each error class extends, besides itself.
const ANCESTORS: Record<string, string[]> = {
  'core.StoreCallError': ['core.StoreError'],
  'redis.MalformedRecordError': ['core.DecodeError'],
}

// Runs on the built packages (pnpm test builds first), in a plain Node process:
// the ES module build and the CommonJS build are two copies of every class, as
// two installed versions would be, and instanceof must not care which copy made
// an error.
describe('error classes across two copies of the packages', async () => {
  const script = fileURLToPath(new URL('./fixtures/two-copies.mjs', import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, [script])
  const { uncovered, rows } = JSON.parse(stdout) as { uncovered: string[]; rows: Row[] }

  it('covers every exported error class, in both directions', () => {
    expect(uncovered).toEqual([])
    expect(rows).toHaveLength(2 * 16)
  })

  for (const row of rows) {
    it(`a ${row.error} made by the ${row.from} build is an instance of exactly its classes in the other build`, () => {
      const expected = Object.fromEntries(
        Object.keys(row.instanceOf).map((name) => [
          name,
          name === row.error || name === 'core.TierCacheError' || (ANCESTORS[row.error] ?? []).includes(name),
        ]),
      )
      expect(row.instanceOf).toEqual(expected)
    })
  }
})
