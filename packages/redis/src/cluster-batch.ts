import calculateSlot from 'cluster-key-slot'
import type { Cluster } from 'ioredis'

/** Keys of one batch that share a slot, with their positions in the batch. */
export interface SlotGroup {
  readonly keys: string[]
  readonly positions: number[]
}

/**
 * Split a batch of keys for a Cluster: one group per slot (a script may only
 * touch one slot), the groups gathered per node so each node gets them all in
 * one pipeline, i.e. one round trip per node.
 *
 * The node is read from the client's slot table. Before the table is known
 * every slot is its own batch; ioredis routes each command by itself then.
 */
export function splitBySlot(cluster: Cluster, keys: readonly string[]): SlotGroup[][] {
  const bySlot = new Map<number, SlotGroup>()
  keys.forEach((key, position) => {
    const slot = calculateSlot(key)
    let group = bySlot.get(slot)
    if (group === undefined) {
      group = { keys: [], positions: [] }
      bySlot.set(slot, group)
    }
    group.keys.push(key)
    group.positions.push(position)
  })
  const byNode = new Map<string, SlotGroup[]>()
  for (const [slot, group] of bySlot) {
    // The node list (master first, then replicas) is what ioredis itself groups pipelines by.
    const node = cluster.slots[slot]?.join(',') ?? `slot:${slot}`
    const groups = byNode.get(node)
    if (groups === undefined) byNode.set(node, [group])
    else groups.push(group)
  }
  return [...byNode.values()]
}
