/**
 * The value every scenario caches: a plain JSON object of about 1 KB, shaped
 * like an API record (strings, numbers, booleans, a nested object, an array of
 * small objects), so codecs and parsers meet a realistic mix rather than one
 * long string.
 */
export interface Record1k {
  id: number
  slug: string
  title: string
  active: boolean
  score: number
  createdAt: string
  owner: { id: number; name: string; email: string; roles: string[] }
  tags: string[]
  items: { sku: string; qty: number; price: number; note: string }[]
}

/** Builds the 1 KB record number `i`; a fresh object on every call, so no two entries share memory. */
export function makeValue(i: number): Record1k {
  return {
    id: i,
    slug: `record-${i}`,
    title: `A cached record used by the tiercache benchmarks, number ${i}`,
    active: i % 2 === 0,
    score: ((i * 7919) % 10_000) / 100,
    createdAt: new Date(1_700_000_000_000 + i * 1000).toISOString(),
    owner: { id: i % 977, name: `Owner ${i % 977}`, email: `owner${i % 977}@example.com`, roles: ['reader', 'writer'] },
    tags: ['alpha', 'beta', 'gamma', `t${i % 13}`],
    items: Array.from({ length: 10 }, (_, j) => ({
      sku: `SKU-${i}-${j}`,
      qty: (i + j) % 9,
      price: ((i + 3 * j) % 1000) / 10,
      note: 'standard shipping',
    })),
  }
}

/** Bytes of the JSON text of record `i` (about 1 KB; printed in the report). */
export function jsonBytes(i = 1): number {
  return Buffer.byteLength(JSON.stringify(makeValue(i)))
}
