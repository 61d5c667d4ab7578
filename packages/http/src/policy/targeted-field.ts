import { type HeaderMap, headerValue } from '../headers.js'

/**
 * The directives of the first targeted cache-control field (RFC 9213) in
 * `fields` that the response carries with a valid, non-empty value, as the same
 * map `parseCacheControl` gives (`name → value`, `''` for a bare directive);
 * `undefined` when none applies, and the cache then reads `Cache-Control`.
 *
 * RFC 9213 §2.2: a targeted field is a Structured Field Dictionary (RFC 8941
 * §3.2); one that does not parse is ignored whole, and so is one whose
 * `max-age`/`s-maxage` is not an Integer (RFC 9213 §2.1: the directives keep
 * their Cache-Control meanings and types). When one applies, the cache must
 * ignore `Cache-Control` and `Expires` for its own policy (§2.2).
 *
 * @example
 * targetedDirectives({ 'cdn-cache-control': 'max-age=600' }, ['cdn-cache-control']) // Map { 'max-age' => '600' }
 */
export function targetedDirectives(headers: HeaderMap, fields: readonly string[]): Map<string, string> | undefined {
  for (const field of fields) {
    const value = headerValue(headers, field)
    if (value === undefined) continue
    const parsed = parseDictionary(value)
    if (parsed === undefined || parsed.size === 0) continue
    const directives = new Map<string, string>()
    let valid = true
    for (const [name, item] of parsed) {
      if ((name === 'max-age' || name === 's-maxage') && typeof item !== 'number') valid = false
      // `?0` turns a directive off (RFC 8941 §3.3.6), e.g. `private=?0`.
      if (item !== false) directives.set(name, item === true ? '' : String(item))
    }
    if (valid) return directives
  }
  return undefined
}

type BareItem = number | string | boolean

/**
 * An RFC 8941 §4.2.2 Dictionary: member names to bare items (inner lists and
 * parameters are parsed for validity, then dropped; no cache directive uses
 * them). `undefined` when the text is not a valid Dictionary.
 */
function parseDictionary(text: string): Map<string, BareItem> | undefined {
  const input = { text, at: 0 }
  const members = new Map<string, BareItem>()
  skip(input, ' ')
  while (input.at < text.length) {
    const key = parseKey(input)
    if (key === undefined) return undefined
    let item: BareItem | undefined = true
    if (text[input.at] === '=') {
      input.at++
      if (text[input.at] === '(') {
        if (!parseInnerList(input)) return undefined
        item = true
      } else {
        item = parseBareItem(input)
        if (item === undefined) return undefined
      }
    }
    if (!parseParameters(input)) return undefined
    members.set(key, item)
    skip(input, ' \t')
    if (input.at === text.length) return members
    if (text[input.at] !== ',') return undefined
    input.at++
    skip(input, ' \t')
    if (input.at === text.length) return undefined // a trailing comma
  }
  return members
}

interface Input {
  readonly text: string
  at: number
}

function skip(input: Input, chars: string): void {
  while (input.at < input.text.length && chars.includes(input.text[input.at]!)) input.at++
}

/** key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
function parseKey(input: Input): string | undefined {
  const match = /^[a-z*][a-z0-9_\-.*]*/.exec(input.text.slice(input.at))
  if (match === null) return undefined
  input.at += match[0].length
  return match[0]
}

/** RFC 8941 §3.3 bare items, each with how its text becomes a value. */
const BARE_ITEMS: readonly (readonly [RegExp, (text: string) => BareItem])[] = [
  [/^-?\d{1,12}\.\d{1,3}(?![\d.])/, Number], // decimal
  [/^-?\d{1,15}(?![\d.])/, Number], // integer
  [/^"(?:[ !#-[\]-~]|\\["\\])*"/, (text) => text.slice(1, -1).replace(/\\(["\\])/g, '$1')], // string: printable ASCII, \" and \\ escaped
  [/^[A-Za-z*][!#$%&'*+\-.^_`|~\w:/]*/, (text) => text], // token
  [/^:[A-Za-z0-9+/=]*:/, (text) => text], // byte sequence
  [/^\?[01]/, (text) => text === '?1'], // boolean
]

function parseBareItem(input: Input): BareItem | undefined {
  const rest = input.text.slice(input.at)
  for (const [pattern, value] of BARE_ITEMS) {
    const match = pattern.exec(rest)
    if (match === null) continue
    input.at += match[0].length
    return value(match[0])
  }
  return undefined
}

function parseParameters(input: Input): boolean {
  while (input.text[input.at] === ';') {
    input.at++
    skip(input, ' ')
    if (parseKey(input) === undefined) return false
    if (input.text[input.at] === '=') {
      input.at++
      if (parseBareItem(input) === undefined) return false
    }
  }
  return true
}

function parseInnerList(input: Input): boolean {
  input.at++ // (
  for (;;) {
    skip(input, ' ')
    if (input.text[input.at] === ')') {
      input.at++
      return parseParameters(input)
    }
    if (parseBareItem(input) === undefined || !parseParameters(input)) return false
    const next = input.text[input.at]
    if (next !== ' ' && next !== ')') return false
  }
}
