/** Methods RFC 9110 §9.2.1 defines as safe; every other method, unknown ones too, may change the resource. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** Whether a request method may change the target resource (RFC 9110 §9.2.1): any but GET, HEAD, OPTIONS, TRACE. */
export function isUnsafeMethod(method: string): boolean {
  return !SAFE_METHODS.has(method)
}

/**
 * The URLs (path and query) a cache must invalidate after a request (RFC 9111
 * §4.4): after a non-error response (2xx, 3xx) to an unsafe method, the target
 * URI and the URIs in `Location` and `Content-Location` when they have the same
 * origin (a cache must not let one origin invalidate another's responses).
 * Empty for safe methods and error responses.
 *
 * The target comes back as received (it is keyed as received); the others as
 * `URL` resolves them against it.
 *
 * @example
 * invalidatedUrls({ method: 'POST', host: 'example.com', url: '/items' }, 201, { location: '/items/7' }) // ['/items', '/items/7']
 */
export function invalidatedUrls(
  request: { readonly method: string; readonly host: string; readonly url: string },
  status: number,
  locations: { readonly location?: string | undefined; readonly contentLocation?: string | undefined },
): string[] {
  if (!isUnsafeMethod(request.method) || status < 200 || status >= 400) return []
  const urls = new Set([request.url])
  let target: URL
  try {
    target = new URL(request.url, `http://${request.host || 'localhost'}`)
  } catch {
    return [...urls]
  }
  for (const reference of [locations.location, locations.contentLocation]) {
    if (reference === undefined) continue
    let url: URL
    try {
      url = new URL(reference, target)
    } catch {
      continue // not a URI reference: nothing to invalidate
    }
    if (url.origin === target.origin) urls.add(url.pathname + url.search)
  }
  return [...urls]
}
