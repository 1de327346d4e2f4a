import type Database from 'better-sqlite3'

/** A signed checkpoint note this node made or received (docs/proofs.md "Checkpoints"). */
export interface CheckpointRecord {
  /** tree size: the checkpoint covers heights 0 … size − 1 */
  size: number
  /** the tree head, 64 hex */
  root: string
  /** the signer's tip when it signed (the note's `tip` line) */
  tip: number
  /** the whole signed note */
  note: string
  receivedAt: number
  /** `self` when this node signed it, else where it came from */
  source: string
}

export const CHECKPOINT_SCHEMA = `
CREATE TABLE IF NOT EXISTS checkpoints (id INTEGER PRIMARY KEY, size INTEGER NOT NULL, root TEXT NOT NULL,
  tip INTEGER NOT NULL, note TEXT NOT NULL UNIQUE, received_at INTEGER NOT NULL, source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS checkpoints_size ON checkpoints(size, tip);
`

interface Row { size: number, root: string, tip: number, note: string, received_at: number, source: string }

const toRecord = (r: Row): CheckpointRecord => ({ size: r.size, root: r.root, tip: r.tip, note: r.note, receivedAt: r.received_at, source: r.source })

/**
 * The checkpoints a node keeps in `chain.db`. They are not derived from the block files (a
 * signature is made once), so reindex keeps them; a reorg keeps them too, and the proof module
 * picks only those whose root is the head of the current chain tree at their size.
 */
export class CheckpointTable {
  constructor (private readonly db: Database.Database, private readonly assertTx: () => void) {}

  /** Store a checkpoint; false when this exact note is already stored. */
  insert (c: CheckpointRecord): boolean {
    this.assertTx()
    return this.db.prepare('INSERT OR IGNORE INTO checkpoints (size, root, tip, note, received_at, source) VALUES (?, ?, ?, ?, ?, ?)')
      .run(c.size, c.root, c.tip, c.note, c.receivedAt, c.source).changes === 1
  }

  /** Checkpoints with minSize ≤ size ≤ maxSize, largest (then latest signed) first. */
  list (o: { minSize?: number, maxSize?: number, limit?: number } = {}): CheckpointRecord[] {
    return this.db.prepare<unknown[], Row>('SELECT size, root, tip, note, received_at, source FROM checkpoints WHERE size BETWEEN ? AND ? ORDER BY size DESC, tip DESC, id DESC LIMIT ?')
      .all(o.minSize ?? 0, o.maxSize ?? Number.MAX_SAFE_INTEGER, o.limit ?? 100).map(toRecord)
  }

  /** The highest tip among the checkpoints received from `source` (`peer <id>`), if any. */
  latestTipFrom (source: string): number | undefined {
    return this.db.prepare<unknown[], { tip: number | null }>('SELECT MAX(tip) AS tip FROM checkpoints WHERE source = ?').get(source)?.tip ?? undefined
  }

  /** Replace the note of a stored checkpoint (a cosignature added). */
  replaceNote (old: string, note: string): void {
    this.assertTx()
    this.db.prepare('UPDATE checkpoints SET note = ? WHERE note = ?').run(note, old)
  }
}
