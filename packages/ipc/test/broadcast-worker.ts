// A worker thread that is one node of a BroadcastChannelIpc: it reports what
// its handler hears and publishes what the main thread asks it to.
import { parentPort, workerData } from 'node:worker_threads'
import { BroadcastChannelIpc } from '../src/broadcast-channel.js'

const { channel, namespace } = workerData as { channel: string; namespace: string }
const port = parentPort!
const bus = new BroadcastChannelIpc({ channel })
bus.subscribe(namespace, {
  invalidate: (keys) => port.postMessage({ type: 'invalidate', keys: [...keys], nodeId: bus.nodeId }),
  invalidateAll: () => port.postMessage({ type: 'invalidateAll', nodeId: bus.nodeId }),
  disconnected: () => port.postMessage({ type: 'disconnected', nodeId: bus.nodeId }),
  reconnected: () => port.postMessage({ type: 'reconnected', nodeId: bus.nodeId }),
})
port.on('message', (command: { type: 'publish'; keys: string[] } | { type: 'close' }) => {
  if (command.type === 'publish') bus.publish({ kind: 'set', namespace, keys: command.keys })
  else void bus.close().then(() => port.close())
})
port.postMessage({ type: 'ready', nodeId: bus.nodeId })
