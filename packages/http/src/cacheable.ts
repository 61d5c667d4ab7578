import { parseCacheControl } from './cache-control.js'
import { varyNames } from './cache-key.js'
import type { CacheRequest } from './cache-request.js'
import type { HeaderMap } from './headers.js'

/** What to do with a response that sets a cookie. */
export type SetCookiePolicy = 'bypass' | 'strip' | 'store'

/** The settings the predicates below read; resolved once from the options. */
export interface CacheablePolicy {
  readonly methods: ReadonlySet<string>
  readonly statuses: ReadonlySet<number>
  readonly allowAuthorization: boolean
  readonly allowPrivate: boolean
  readonly allowNoStore: boolean
  readonly setCookie: SetCookiePolicy
}

/** Why a request skips the cache entirely (`X-Cache: BYPASS`). */
export type BypassReason = 'method' | 'authorization' | 'upgrade'

/**
 * Why `request` must not be looked up or stored, `undefined` when it may.
 * - a method outside `methods` (RFC 9111 §3: a cache stores responses only to methods it understands);
 * - `Authorization` (RFC 9111 §3.5: a shared cache must not reuse such a response for others),
 *   unless `allowAuthorization` — then make the key include whatever tells users apart;
 * - `Upgrade` (a WebSocket or h2c handshake is a connection, not a response).
 */
export function bypassReason(request: CacheRequest, policy: CacheablePolicy): BypassReason | undefined {
  if (!policy.methods.has(request.method)) return 'method'
  if (request.headers.authorization !== undefined && !policy.allowAuthorization) return 'authorization'
  if (request.headers.upgrade !== undefined) return 'upgrade'
  return undefined
}

/** Why a response is not stored (it is still served to the client that asked). */
export type UnstorableReason = 'status' | 'no-store' | 'private' | 'set-cookie' | 'vary' | 'authorization'

/**
 * Why a response must not be stored, `undefined` when it may be (RFC 9111 §3):
 * - a status outside `statuses` (nginx's `proxy_cache_valid` list);
 * - `Cache-Control: no-store` (§5.2.2.5) or `private` (§5.2.2.7, also its qualified form),
 *   unless explicitly allowed;
 * - `Set-Cookie` under the `bypass` policy: one user's session must never be handed to another;
 * - `Vary: *` (§4.1: it can never match a later request).
 */
export function unstorableReason(
  status: number,
  headers: HeaderMap,
  policy: CacheablePolicy,
): UnstorableReason | undefined {
  if (!policy.statuses.has(status)) return 'status'
  const cc = parseCacheControl(headers['cache-control'])
  if (cc.has('no-store') && !policy.allowNoStore) return 'no-store'
  if (cc.has('private') && !policy.allowPrivate) return 'private'
  if (headers['set-cookie'] !== undefined && policy.setCookie === 'bypass') return 'set-cookie'
  if (varyNames(headers) === '*') return 'vary'
  return undefined
}
