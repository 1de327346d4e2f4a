import { dataFileExists, DataDir, type SqliteDb } from '../../storage/index.js'
import { openBlockReadonly } from '../../block/index.js'
import { QueryError } from '../errors.js'

/** A canonical block as the catalog describes it (what its `_meta` must say). */
export interface BlockRef {
  height: number
  hash: string
  parent: string
  rowsRoot: string
  signer: string
  timestamp: string
  prevSig: string
}

/** Just the fields of a `BlockRef`, from a record that has them (an index row has more). */
export function blockRef (b: BlockRef): BlockRef {
  return { height: b.height, hash: b.hash, parent: b.parent, rowsRoot: b.rowsRoot, signer: b.signer, timestamp: b.timestamp, prevSig: b.prevSig }
}

/**
 * Open the block `ref` read-only, wherever a concurrent reorg has put it: its height's path or
 * forks/<hash>.db. The connection holds the file it opened, so checking `_meta` through it —
 * height, parent, signer, time, prev-hash signature and RowsRoot, the root over every user row —
 * proves that what the statement reads is that block's content.
 */
export function openBlockChecked (dataDir: string | DataDir, ref: BlockRef): SqliteDb {
  // A per-block query passes one DataDir for all its blocks: each new one looks for the file that
  // would make it a Daisy directory's state (a failed read, with its error, per block).
  const dir = typeof dataDir === 'string' ? new DataDir(dataDir) : dataDir
  for (const path of dir.wherever(ref.height, ref.hash)) {
    let db: SqliteDb
    try {
      if (!dataFileExists(path, 'block file')) continue
      db = openBlockReadonly(path)
    } catch {
      continue
    }
    // openBlockReadonly already set query_only, trusted_schema off, no mmap, cell size checks.
    try {
      if (matches(db, ref)) return db
    } catch {}
    db.close()
  }
  throw new QueryError('QUERY_BLOCK_UNREADABLE', `block ${ref.height} (${ref.hash.slice(0, 12)}…) is not where the index says, or does not match it`, {
    hint: 'run `petal verify --repair` to put damaged block files back; if the files are right, `petal reindex`',
    details: { height: ref.height, hash: ref.hash }
  })
}

function matches (db: SqliteDb, ref: BlockRef): boolean {
  const meta = new Map((db.prepare<unknown[], { key: string, value: string }>("SELECT key, value FROM _meta WHERE key IN ('Version', 'Height', 'PreviousBlockHash', 'RowsRoot', 'CreatorPublicKey', 'Timestamp', 'PreviousBlockHashSignature')").all()).map(r => [r.key, r.value]))
  // A v1 (Daisy) block has no Height or RowsRoot, and may lack a Timestamp: its link, signer and
  // prev-hash signature are what it says about itself (its hash was checked when it was indexed).
  if (meta.get('Version') === '1') {
    return meta.get('PreviousBlockHash') === ref.parent && meta.get('CreatorPublicKey') === ref.signer && meta.get('PreviousBlockHashSignature') === ref.prevSig
  }
  return meta.get('Height') === String(ref.height) && meta.get('PreviousBlockHash') === ref.parent && meta.get('RowsRoot') === ref.rowsRoot &&
    meta.get('CreatorPublicKey') === ref.signer && meta.get('Timestamp') === ref.timestamp && meta.get('PreviousBlockHashSignature') === ref.prevSig
}
