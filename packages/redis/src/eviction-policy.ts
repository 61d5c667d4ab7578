import type { Cluster, Redis } from 'ioredis'

/** A node's `maxmemory-policy`, when it evicts keys. */
export interface EvictingNode {
  readonly node: string
  readonly policy: string
}

/**
 * The nodes (every master of a Cluster) whose `maxmemory-policy` evicts keys
 * (`allkeys-*`, `volatile-*`). A node where CONFIG is disabled or renamed
 * (managed Redis services often do that) is skipped: nothing can be known.
 */
export async function evictingNodes(client: Redis | Cluster): Promise<EvictingNode[]> {
  const nodes = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis]
  const found = await Promise.all(
    nodes.map(async (node): Promise<EvictingNode | undefined> => {
      const reply = (await node.config('GET', 'maxmemory-policy').catch(() => undefined)) as unknown
      const policy = Array.isArray(reply) ? reply[1] : undefined
      if (typeof policy !== 'string' || policy === 'noeviction') return undefined
      return { node: `${node.options.host ?? '?'}:${node.options.port ?? '?'}`, policy }
    }),
  )
  return found.filter((entry): entry is EvictingNode => entry !== undefined)
}
