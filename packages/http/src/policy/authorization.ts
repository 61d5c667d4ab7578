/**
 * Whether a shared cache may store a response to a request with
 * `Authorization`, and reuse it for later requests (RFC 9111 §3.5): only when
 * the response says so with `public`, `s-maxage` or `must-revalidate`.
 */
export function allowsAuthorizedReuse(directives: ReadonlyMap<string, string>): boolean {
  return directives.has('public') || directives.has('s-maxage') || directives.has('must-revalidate')
}
