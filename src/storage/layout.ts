import { readFileSync } from 'node:fs'
import { join, resolve, sep } from 'node:path'
import { errorCode, isNotFound, isRecord, parseJson } from '../util/index.js'
import { DaisyError } from './errors.js'

/** In the derived state of a Daisy directory: names that directory (docs/daisy.md). */
export const DAISY_SOURCE_FILE = 'daisy-source.json'

/**
 * Paths inside a data directory (docs/data-directory.md). The canonical chain uses Daisy's sharded
 * names: height h lives in `%04x(h / 65536)/block_%08x(h).db`, its seal beside it as `.sig`.
 */
export class DataDir {
  private source: string | null | undefined

  constructor (readonly root: string) {}

  /**
   * The Daisy directory this is the derived state of (its daisy-source.json), else undefined. Its
   * canonical block files are Daisy's, under that directory's blocks/, and are never written.
   */
  get daisySource (): string | undefined {
    if (this.source === undefined) {
      const named = readDaisySource(join(this.root, DAISY_SOURCE_FILE))
      // A relative name (an adopted chain's daisy-state/ → ../daisy) moves with the directory.
      this.source = named === null ? null : resolve(this.root, named)
    }
    return this.source ?? undefined
  }

  /** Where the canonical block files are: the root, or a Daisy directory's blocks/. */
  get blocksRoot (): string {
    const daisy = this.daisySource
    return daisy === undefined ? this.root : join(daisy, 'blocks')
  }

  shardDir (height: number): string {
    return join(this.blocksRoot, shardName(height))
  }

  blockPath (height: number): string {
    return join(this.shardDir(height), blockFileName(height))
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

function readDaisySource (path: string): string | null {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    // ENOTDIR: the root is a file; whoever opens the directory says so.
    if (isNotFound(err) || errorCode(err) === 'ENOTDIR') return null
    throw err
  }
  const j: unknown = parseJson(text)
  if (!isRecord(j) || typeof j.daisy_dir !== 'string') {
    throw new DaisyError('DAISY_STATE_FOREIGN', `${path} does not name a Daisy directory`, { hint: 'remove that state directory (it is derived and rebuilt on the next command) or give another --state', details: { state: path, source: '' } })
  }
  return j.daisy_dir
}

/** The directory, under the blocks' root, of height h's block file (`%04x(h / 65536)`). */
export function shardName (height: number): string {
  return Math.floor(height / 65536).toString(16).padStart(4, '0')
}

/** Height h's block file's name in its shard directory (`block_%08x(h).db`). */
export function blockFileName (height: number): string {
  return `block_${height.toString(16).padStart(8, '0')}.db`
}

/**
 * DataDir.blockPath of a DataDir whose blocksRoot is `root`, for a thread that makes many paths
 * (verify's workers): the shard directory joined once per shard, not twice per path. A shard
 * directory ends with its hex name, so joining a file name to it adds a separator and the name.
 */
export class BlockPaths {
  private dir = ''
  private shard = -1
  constructor (readonly root: string) {}

  path (height: number): string {
    const s = Math.floor(height / 65536)
    if (s !== this.shard) {
      this.dir = join(this.root, shardName(height))
      this.shard = s
    }
    return this.dir + sep + blockFileName(height)
  }
}

/** The `.sig` file that holds a block file's seal. */
export function sealPathOf (blockPath: string): string {
  return blockPath.replace(/\.db$/, '.sig')
}
