/**
 * Statuses whose caching rules this cache implements (RFC 9111 §5.2.2.3): the
 * final statuses RFC 9110 §15 defines. `must-understand` lets a response with
 * one of them be stored despite `no-store`; with any other it stays unstored.
 */
const UNDERSTOOD = new Set([
  200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408,
  409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505,
])

/**
 * Whether `no-store` is overridden by `must-understand` (RFC 9111 §5.2.2.3):
 * the directive is present and the status is one this cache understands.
 */
export function mustUnderstandOverridesNoStore(status: number, directives: ReadonlyMap<string, string>): boolean {
  return directives.has('must-understand') && UNDERSTOOD.has(status)
}
