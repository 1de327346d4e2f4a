import { NodeLock } from '../storage/index.js'

/** The file whose exclusive lock the one sealer of a data directory holds (docs/ingest.md). */
export const SEAL_LOCK_FILE = 'seal.lock'

export type SealLock = NodeLock

/** Take the seal lock now, or undefined when another process (or seal) holds it. */
export function trySealLock (root: string): SealLock | undefined {
  return NodeLock.tryAcquire(root, SEAL_LOCK_FILE)
}

/** Wait for the seal lock without blocking the event loop. */
export async function waitSealLock (root: string, o: { signal?: AbortSignal, onWait?: () => void } = {}): Promise<SealLock> {
  return await NodeLock.acquire(root, SEAL_LOCK_FILE, o)
}
