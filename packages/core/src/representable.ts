/**
 * What a codec keeps of a value beyond the JSON core (plain objects, arrays,
 * well-formed strings, booleans, null, finite numbers). Anything else would
 * come back changed from the shared store and over to other nodes, while the
 * writing node's L1 holds the original: the nodes would silently disagree.
 */
export interface Representable {
  /** `undefined` (a missing array item or property reads back the same). */
  readonly undefined: boolean
  /** `NaN`, `Infinity`, `-Infinity`. */
  readonly nonFinite: boolean
  readonly bigint: boolean
  /** `Map` and `Set`, walked into. */
  readonly collections: boolean
  /** Objects kept whole, by their exact prototype (`Date.prototype`, typed arrays ...); never walked into. */
  readonly opaque: ReadonlySet<object>
}

/** Where in a value (a path such as `.user.tags[2]`) a codec cannot keep it, and why. */
export interface Unrepresentable {
  readonly path: string
  readonly reason: string
}

/** Past this depth a value is refused: a cycle, or nesting no codec walks without overflowing. */
const MAX_DEPTH = 256

/**
 * The first part of `value` that `rules` cannot round-trip, or `undefined`.
 * Allocates nothing for a value that passes: the path is built only on the way
 * back from a failure.
 */
export function findUnrepresentable(value: unknown, rules: Representable): Unrepresentable | undefined {
  return walk(value, rules, 0)
}

function walk(value: unknown, rules: Representable, depth: number): Unrepresentable | undefined {
  switch (typeof value) {
    case 'boolean':
      return undefined
    case 'string':
      return value.isWellFormed() ? undefined : at('', 'is a string with a lone UTF-16 surrogate')
    case 'number':
      return rules.nonFinite || Number.isFinite(value) ? undefined : at('', `is ${value}`)
    case 'undefined':
      return rules.undefined ? undefined : at('', 'is undefined')
    case 'bigint':
      return rules.bigint ? undefined : at('', 'is a bigint')
    case 'symbol':
      return at('', 'is a symbol')
    case 'function':
      return at('', 'is a function')
  }
  if (value === null) return undefined
  if (depth >= MAX_DEPTH) return at('', `nests deeper than ${MAX_DEPTH} levels (a cycle?)`)
  const proto = Object.getPrototypeOf(value)
  if (proto === Array.prototype) return walkArray(value as unknown[], rules, depth)
  if (proto === Object.prototype || proto === null) return walkObject(value as Record<string, unknown>, rules, depth)
  if (rules.opaque.has(proto)) return undefined
  if (rules.collections && proto === Map.prototype) return walkMap(value as Map<unknown, unknown>, rules, depth)
  if (rules.collections && proto === Set.prototype) return walkSet(value as Set<unknown>, rules, depth)
  const name = (proto?.constructor as { name?: unknown } | undefined)?.name
  return at('', `is an instance of ${typeof name === 'string' && name !== '' ? name : 'a class'}`)
}

function walkArray(array: unknown[], rules: Representable, depth: number): Unrepresentable | undefined {
  for (let i = 0; i < array.length; i++) {
    const found = walk(array[i], rules, depth + 1)
    if (found !== undefined) return inside(`[${i}]`, found)
  }
  return undefined
}

function walkObject(object: Record<string, unknown>, rules: Representable, depth: number): Unrepresentable | undefined {
  for (const key in object) {
    // An own "__proto__" key (JSON.parse makes them) cannot be recreated by a decoder without changing the prototype.
    if (key === '__proto__') return at(`[${JSON.stringify(key)}]`, 'is an own __proto__ key')
    const found = walk(object[key], rules, depth + 1)
    if (found !== undefined) return inside(propertyPath(key), found)
  }
  // Symbol keys are not looked for (as JSON.stringify, codecs skip them): one more call per object would
  // double the cost of this walk.
  return undefined
}

function walkMap(map: Map<unknown, unknown>, rules: Representable, depth: number): Unrepresentable | undefined {
  for (const [key, item] of map) {
    const keyFound = walk(key, rules, depth + 1)
    if (keyFound !== undefined) return inside('<Map key>', keyFound)
    const found = walk(item, rules, depth + 1)
    if (found !== undefined) return inside(`.get(${typeof key === 'string' ? JSON.stringify(key) : '…'})`, found)
  }
  return undefined
}

function walkSet(set: Set<unknown>, rules: Representable, depth: number): Unrepresentable | undefined {
  for (const item of set) {
    const found = walk(item, rules, depth + 1)
    if (found !== undefined) return inside('<Set item>', found)
  }
  return undefined
}

function at(path: string, reason: string): Unrepresentable {
  return { path, reason }
}

function inside(step: string, found: Unrepresentable): Unrepresentable {
  return { path: step + found.path, reason: found.reason }
}

function propertyPath(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
}
