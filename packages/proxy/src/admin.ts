import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { HttpCache } from '@tiercache/http'

/** What the admin endpoints need from the running proxy. */
export interface AdminContext {
  readonly engine: HttpCache
  readonly purgeToken: string | undefined
  /** `true` while shutting down: health answers 503 so a balancer stops sending traffic. */
  readonly draining: () => boolean
  readonly origin: URL
}

/**
 * `GET <prefix>/health` and `POST <prefix>/purge?url=…` / `?tag=…` (the purge
 * needs `Authorization: Bearer <purgeToken>`: 401 without it, 403 with a wrong
 * one). A purge by URL takes an absolute URL, or a path on the purge request's own `Host`.
 */
export async function admin(req: IncomingMessage, res: ServerResponse, path: string, ctx: AdminContext): Promise<void> {
  if (path === '/health') {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return answer(res, 405, { error: 'use GET' }, { allow: 'GET, HEAD' })
    return answer(res, ctx.draining() ? 503 : 200, {
      status: ctx.draining() ? 'draining' : 'ok',
      origin: ctx.origin.origin,
    })
  }
  if (path !== '/purge') return answer(res, 404, { error: 'no such endpoint' })
  if (req.method !== 'POST' && req.method !== 'PURGE') return answer(res, 405, { error: 'use POST' }, { allow: 'POST' })

  const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1]
  if (given === undefined)
    return answer(res, 401, { error: 'a purge needs Authorization: Bearer <token>' }, { 'www-authenticate': 'Bearer' })
  if (ctx.purgeToken === undefined || !sameToken(given, ctx.purgeToken))
    return answer(res, 403, { error: 'wrong token' })

  const query = new URL(req.url ?? '/', 'http://admin').searchParams
  const url = query.get('url')
  const tag = query.get('tag')
  if ((url === null) === (tag === null)) return answer(res, 400, { error: 'give exactly one of ?url= and ?tag=' })
  try {
    if (tag !== null) await ctx.engine.purgeTag(tag)
    else await ctx.engine.purgeUrl(new URL(url!, `http://${req.headers.host ?? 'localhost'}`))
  } catch (error) {
    return answer(res, error instanceof TypeError ? 400 : 500, { error: (error as Error).message })
  }
  return answer(res, 200, tag !== null ? { purged: { tag } } : { purged: { url } })
}

/** Compare in time independent of where the strings differ, so the token cannot be guessed byte by byte. */
function sameToken(a: string, b: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(a), digest(b))
}

function answer(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
  res.end(text)
}
