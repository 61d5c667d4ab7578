import type { IpcError } from './errors.js'

/**
 * Events of every invalidation bus. Nothing is thrown from `publish` or from a
 * received message; listen to `error` to see failures.
 */
export interface IpcEvents {
  /** A publish, subscribe, decode or handler call failed. */
  error: (error: IpcError) => void
  /** `namespace` may be missing messages from now on; its caches bound their L1 trust. */
  disconnected: (info: { readonly namespace: string; readonly reason: string }) => void
  /** `namespace` receives messages again; its caches dropped their L1. */
  reconnected: (info: { readonly namespace: string }) => void
  /** A sender's sequence jumped: messages were lost, the namespace's L1 was dropped. */
  gap: (info: { readonly namespace: string; readonly sender: string; readonly seq: number }) => void
}
