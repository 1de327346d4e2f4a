import type { TmpFilePool } from '../storage/index.js'
import type { BlockImporter } from './importer.js'

/** A range block's file in tmp/: `made`, an empty file created ahead (the receive opens it), else a new name (the receive creates it). */
export interface RangeFile { readonly file: string, readonly made: boolean }

/**
 * The files of one download's range requests. From its first range on, a download keeps files
 * created ahead off the main thread (storage/tmp-files.ts: each new inode cost the pulling main
 * thread ~0.25 ms on this VM after many deletions, docs/performance/catchup.md, "Session 37: catch-up"):
 * as many as its request slots to one peer take at once (a range's files are taken together, and
 * ranges started together end together), never more than the blocks it has yet to ask for.
 * A lone block (following the tip) goes by a single request and creates nothing ahead.
 */
export class RangeFiles {
  private pool: TmpFilePool | undefined
  private longest = 0

  constructor (private readonly importer: BlockImporter, private readonly perPeer: number) {}

  /** Files for the `n` blocks of a range; `left`: the blocks still to ask for after these. */
  take (n: number, left: number): RangeFile[] {
    this.pool ??= this.importer.tmpFiles?.()
    const out: RangeFile[] = []
    for (let i = 0; i < n; i++) {
      const made = this.pool?.take()
      out.push(made === undefined ? { file: this.importer.tmpPath(), made: false } : { file: made, made: true })
    }
    this.longest = Math.max(this.longest, n)
    this.pool?.keep(Math.min(this.perPeer * this.longest, left))
    return out
  }

  /** Once no range runs: removes the files created ahead that none took. */
  async close (): Promise<void> { await this.pool?.close() }
}
