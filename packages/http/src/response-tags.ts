import { type HeaderMap, headerValue } from './headers.js'

/**
 * The tags a response carries in `names` (e.g. `Cache-Tag`, `Surrogate-Key`):
 * separated by commas or spaces, as Cloudflare and Fastly read them.
 */
export function responseTags(headers: HeaderMap, names: readonly string[]): string[] {
  const tags = new Set<string>()
  for (const name of names) {
    for (const tag of (headerValue(headers, name) ?? '').split(/[\s,]+/)) {
      if (tag.length > 0) tags.add(tag)
    }
  }
  return [...tags]
}
