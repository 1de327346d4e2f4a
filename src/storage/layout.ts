import { join } from 'node:path'

/**
 * Paths inside a data directory (docs/data-directory.md). The canonical chain uses Daisy's sharded
 * names: height h lives in `%04x(h / 65536)/block_%08x(h).db`, its seal beside it as `.sig`.
 */
export class DataDir {
  constructor (readonly root: string) {}

  shardDir (height: number): string {
    return join(this.root, Math.floor(height / 65536).toString(16).padStart(4, '0'))
  }

  blockPath (height: number): string {
    return join(this.shardDir(height), `block_${height.toString(16).padStart(8, '0')}.db`)
  }

  forkPath (hash: string): string { return join(this.root, 'forks', `${hash}.db`) }

  /**
   * Where a block may be found by a reader in another process: its height's path, forks/, then
   * its height's path again — a concurrent reorg may be moving it between the two right now.
   * The caller checks that what it opens is the block it wants.
   */
  wherever (height: number, hash: string): string[] {
    return [this.blockPath(height), this.forkPath(hash), this.blockPath(height)]
  }
  get forksDir (): string { return join(this.root, 'forks') }
  get chainParams (): string { return join(this.root, 'chainparams.json') }
  get chainDb (): string { return join(this.root, 'chain.db') }
  get queryDb (): string { return join(this.root, 'query.db') }
  /** chunk roots of large tables for fast row proofs: a derived cache, safe to delete */
  get proofCache (): string { return join(this.root, 'proof-cache.db') }
  get keystore (): string { return join(this.root, 'keystore') }
  get nodeKey (): string { return join(this.root, 'node.key') }
  get tmpDir (): string { return join(this.root, 'tmp') }
  get journal (): string { return join(this.root, 'journal.json') }
  /** Rows acknowledged by the ingest service and not yet in a canonical block (src/ingest). */
  get pendingDb (): string { return join(this.root, 'pending.db') }
}

/** The `.sig` file that holds a block file's seal. */
export function sealPathOf (blockPath: string): string {
  return blockPath.replace(/\.db$/, '.sig')
}
