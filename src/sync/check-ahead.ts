import { rm } from 'node:fs/promises'
import { BlockError } from '../block/index.js'
import { discardLoaded, type LoadedBlock } from '../chain/index.js'
// At run time only network/core (errors, wire format, limits) is loaded: never libp2p.
import { NetworkError } from '../network/core.js'
import { pausepoint, type WorkProgress } from '../util/index.js'
import type { BlockImporter } from './importer.js'
import type { Slot } from './slot.js'
import type { WireHeader } from '../network/index.js'

// Blocks whose stateless checks run at once (ahead of the import point, on files already here):
// enough for the load pool to send each thread a batch while it works through the one before.
const MAX_LOADS = 16

/** A fetched block's stateless checks, running or done. */
interface Load { promise: Promise<void>, settled: boolean, block?: LoadedBlock, error?: unknown }

/**
 * The file-only checks of fetched blocks (hash, structure, manifest, signatures), started as
 * soon as a file is here, lowest height first, up to MAX_LOADS at once, whatever the import is
 * doing meanwhile. A slot's outcome is held until the import takes it.
 */
export class CheckAhead {
  private readonly loads = new Map<Slot, Load>()
  private loading = 0
  /** Slots whose block arrived and whose checks have not started (the window is not walked for them at every turn of the loop). */
  private readonly arrived: Slot[] = []

  /** `onWrongBytes`: a block the transfer left unhashed was found by its checks to be other bytes (the slot is waiting again). */
  constructor (private readonly importer: BlockImporter, private readonly onSettled: () => void, private readonly onProgress?: (h: WireHeader, p: WorkProgress) => void,
    private readonly onWrongBytes?: (from: string, height: number, err: NetworkError) => void) {}

  /** The slot's block is here (fetched): its checks start at a later `start`. */
  add (slot: Slot): void { this.arrived.push(slot) }

  /** Start the checks of the slots added, lowest height first. `ahead`: more blocks follow (worker threads may be used). */
  start (ahead: boolean, signal: AbortSignal): void {
    if (this.arrived.length > MAX_LOADS - this.loading) this.arrived.sort((a, b) => a.height - b.height)
    while (this.loading < MAX_LOADS && this.arrived.length > 0) {
      const slot = this.arrived.shift() as Slot
      const s = slot.state
      if (s.kind !== 'fetched' || this.loads.has(slot)) continue
      const onProgress = this.onProgress
      const load: Load = { promise: Promise.resolve(), settled: false }
      this.loading++
      // Crash tests hold one height's checks here (PETAL_PAUSE=sync:check@height): the import
      // stops below it while the window fills above it.
      load.promise = pausepoint('sync:check', signal, slot.header.height).then(async () => await this.importer.load(s.file, s.seal, slot.header.hash, signal, { ahead, size: s.size, head: s.head, hashed: s.hashed, sealChecked: slot.sealChecked, onProgress: onProgress === undefined ? undefined : p => { onProgress(slot.header, p) } })).then(
        b => { load.block = b },
        (err: unknown) => {
          // Bytes the transfer did not hash, found to be another block's: the transfer's own refusal
          // (TRANSFER_HASH_MISMATCH), the block fetched again from another peer; never an invalid block.
          // (The load consumed the file.)
          if (s.hashed === false && err instanceof BlockError && err.code === 'HASH_MISMATCH' && slot.state === s) {
            this.loads.delete(slot)
            slot.wrongBytes()
            this.onWrongBytes?.(s.from, slot.height, new NetworkError('TRANSFER_HASH_MISMATCH', 'block bytes do not match the requested hash', { details: { peer: s.from, hash: slot.header.hash } }))
          } else load.error = err
        }
      ).finally(() => {
        load.settled = true
        this.loading--
        this.onSettled()
      })
      this.loads.set(slot, load)
    }
  }

  /** The slot's checks are done (passed or failed). */
  settled (slot: Slot): boolean { return this.loads.get(slot)?.settled === true }

  /** The slot's checks passed (its block waits to be taken). */
  passed (slot: Slot): boolean { return this.loads.get(slot)?.block !== undefined }

  /** The slot's checked block, handed over (the caller owns its file now), if its checks passed. */
  take (slot: Slot): LoadedBlock | undefined {
    const b = this.loads.get(slot)?.block
    if (b !== undefined) this.loads.delete(slot)
    return b
  }

  /** The error of the slot's failed checks, forgotten. */
  takeError (slot: Slot): unknown {
    const e = this.loads.get(slot)?.error
    this.loads.delete(slot)
    return e
  }

  /** Wait for every check still running, then delete the files of blocks nobody took. */
  async close (): Promise<void> {
    await Promise.all([...this.loads.values()].map(l => l.promise))
    await Promise.all([...this.loads.values()].map(async l => { if (l.block !== undefined) await discardLoaded(l.block) }))
    this.loads.clear()
  }
}

/** Delete a downloaded file; one that cannot be deleted now is left to the next cleanTmp. */
export async function discard (file: string): Promise<void> {
  await rm(file, { force: true }).catch(() => {})
}
