import type { Cluster, Redis } from 'ioredis'
import { allowListeners } from './listener-limit.js'
import { RUN_ONCE } from './scripts.js'

// A store's writes left unanswered when their connection closes: failed (outcome unknown), never
// sent again by ioredis or a Cluster to run a second time. Watched per client, whatever its stores.

/** Sockets whose close runs {@link dropUnanswered} for their client: one listener per socket, whatever the stores. */
const droppingOn = new WeakSet<object>()
/** Clients (standalone, or Cluster) whose every socket {@link watchSockets} watches. */
const watchedClients = new WeakSet<object>()

/**
 * Watch every socket `client` connects with, now and after each reconnection, for
 * {@link dropOnClose}: on a standalone client at each 'ready' (a new socket), on a Cluster
 * each node connection (each node's, and each new one's at its 'connect'). One set of
 * listeners per client and per node, held by them alone, whatever the stores, never taken off:
 *
 * - taken off at a store's close(), a store closed with a write still waiting for the connection
 *   (in the offline queue of a client connecting) left the socket it was then written on
 *   unwatched: its reply lost, the write was sent again and ran a second time after a delete
 *   that had resolved;
 * - per store, every store made and closed on a Cluster client that stays open left a listener
 *   per node and per node socket, each holding the whole store (MaxListenersExceededWarning at
 *   the 11th).
 */
export function watchSockets(client: Redis | Cluster): void {
  if (watchedClients.has(client)) return
  watchedClients.add(client)
  // Its 'ready' (standalone) or '+node' (Cluster) listener, for good.
  allowListeners(client, 1)
  if (!client.isCluster) {
    const redis = client as Redis
    redis.on('ready', () => dropOnClose(redis, false))
    dropOnClose(redis, false)
    return
  }
  // A node lost is not reconnected (unless clusterNodeRetryStrategy): a new one comes by '+node'.
  const watchNode = (node: Redis) => {
    node.on('connect', () => dropOnClose(node, true))
    dropOnClose(node, true)
  }
  const cluster = client as Cluster
  cluster.on('+node', watchNode)
  for (const node of cluster.nodes('all')) watchNode(node)
}

/**
 * When the socket `client` (a standalone client, or a Cluster's node) is connected with now
 * closes, fail the store's writes still unanswered on it (their outcome unknown: they may have
 * run; see {@link dropUnanswered}). ioredis sends the commands unanswered at a close again on
 * the next connection (`autoResendUnfulfilledCommands`, on by default), and a Cluster those its
 * node's close handler fails with "Connection is closed." (after `retryDelayOnFailover`): a
 * write whose reply was lost with its connection had often run, and sent again within its
 * deadline it ran a second time, after the writes that came in between (a value deleted by
 * another process came back; an acquire found the lock held, by itself, and left it to nobody
 * for its lease). Reads, which may run twice, are left to be sent again.
 *
 * Standalone, after ioredis's own close handler, in the same turn, before any reconnection: the
 * queue is the one it would send again. On a Cluster node, first in line (`prepend`), before the
 * node's handler fails the rest with the message the Cluster retries.
 *
 * Held by the socket alone, never by a store, and never taken off by a store's close(): a store
 * closed with a write in flight on a client that stays open (a shutdown) left its socket
 * unwatched, and the write, its reply lost with the connection, was sent again and ran a second
 * time after a delete that had resolved, reported applied.
 */
function dropOnClose(client: Redis, prepend: boolean): void {
  const stream = client.stream as Redis['stream'] | undefined
  if (stream === undefined || droppingOn.has(stream)) return
  droppingOn.add(stream)
  allowListeners(stream, 1)
  const drop = () => dropUnanswered(client)
  if (prepend) stream.prependOnceListener('close', drop)
  else stream.once('close', drop)
}

/**
 * Take the store's side-effecting script calls (see RUN_ONCE) out of `client`'s queue of
 * commands unanswered on a connection that closed, and fail them: they may have run, and
 * must not be sent again (see {@link dropOnClose}).
 *
 * With the other commands of their pipeline: ioredis sends a pipeline again only whole,
 * through the pipeline's writer, which writes once it has every command of the pipeline. A
 * write taken out of an auto-pipeline (`enableAutoPipelining`: the store's write and a user's
 * GET of the same tick) left the GET sent again but never written, at the head of the queue:
 * the next reply went to it, every later reply to the command before its own (a user's GET
 * answered with a store read's reply), and the client's auto-pipeline never ran again.
 */
function dropUnanswered(client: Redis): void {
  const queue = (client as { commandQueue?: Partial<Redis['commandQueue']> }).commandQueue
  // ioredis's own queue (a Deque in 5.x; the peer range admits 6.x): of another shape, it is left as it
  // is. A throw here, in a socket's close handler, would be an uncaught exception in the user's process.
  if (queue === undefined || typeof queue.peekAt !== 'function' || typeof queue.remove !== 'function') return
  const runsOnce = (command: { name: string; args: unknown[] }) =>
    (command.name === 'evalsha' || command.name === 'eval') && RUN_ONCE.has(String(command.args[0]))
  // The writers of the pipelines that hold such a call: each command of a pipeline is queued with it.
  const pipelines = new Set<unknown>()
  for (let i = 0; i < (queue.length ?? 0); i++) {
    const { command, stream } = queue.peekAt(i)!
    if (runsOnce(command) && (stream as { isPipeline?: boolean } | undefined)?.isPipeline === true)
      pipelines.add(stream)
  }
  for (let i = 0; i < (queue.length ?? 0); ) {
    const { command, stream } = queue.peekAt(i)!
    if (runsOnce(command)) {
      queue.remove(i, 1)
      command.reject(new Error('the connection closed before Redis answered (not sent again)'))
    } else if (stream !== undefined && pipelines.has(stream)) {
      queue.remove(i, 1)
      command.reject(
        new Error(
          'the connection closed before Redis answered (not sent again: its pipeline held a write that must not be)',
        ),
      )
    } else i++
  }
}
