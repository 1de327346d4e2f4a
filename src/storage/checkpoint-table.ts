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
 * picks only those whose root is the head of the current chain tree at their size (and drops
 * those of an abandoned branch once their tree is final: proof/stored.ts, dropAbandonedLocked).
 */
export class CheckpointTable {
  constructor (private readonly db: Database.Database, private readonly assertTx: () => void) {}

  /** Store a checkpoint; false when this exact note is already stored. */
  insert (c: CheckpointRecord): boolean {
    this.assertTx()
    return this.db.prepare('INSERT OR IGNORE INTO checkpoints (size, root, tip, note, received_at, source) VALUES (?, ?, ?, ?, ?, ?)')
      .run(c.size, c.root, c.tip, c.note, c.receivedAt, c.source).changes === 1
  }

  /**
   * Store `c.note`, of checkpoint text `text`, in place of the stored notes of that text: the
   * caller gives the union of their verified lines and the new ones (proof/note-lines.ts), so one
   * row is kept a checkpoint text however many cosignatures reach it one by one (until session 52
   * each merged version was a row of its own, every older one a subset of the newest). The row's
   * source stays `self` when one of them was this node's own (a signatory signs each tip's
   * checkpoints once: proof/stored.ts looks for them by that source); else it is `c.source`, the
   * latest to add a line. False when this exact note is stored already.
   *
   * `maxReorgDepth` (the chain's): when the note is final (its tip at least that far above its last
   * height), the notes of the same tree (size and root) signed at a lower tip, when it was not
   * final yet, are dropped too: every lookup prefers the higher tip (proof/stored.ts,
   * findCheckpoint), so they would never be read again, and a signatory signs such a note at each
   * tip (the latest tree), which doubled the rows; and a peer's such note is not kept after it.
   */
  keep (c: CheckpointRecord, text: string, maxReorgDepth: number): boolean {
    this.assertTx()
    const rows = this.ofText(c.size, text)
    if (rows.some(r => r.note === c.note)) return false
    const finalFrom = c.size - 1 + maxReorgDepth
    // A peer's note of a tree final here already (a peer behind gossips its tip's): never read, and
    // kept it would stay. This node's own is kept: its signer looks for it (once per tip).
    if (c.tip < finalFrom && c.source !== 'self' && this.db.prepare('SELECT 1 FROM checkpoints WHERE size = ? AND root = ? AND tip >= ? LIMIT 1').get(c.size, c.root, finalFrom) !== undefined) return false
    const drop = this.db.prepare('DELETE FROM checkpoints WHERE id = ?')
    for (const r of rows) drop.run(r.id)
    if (c.tip >= finalFrom) this.db.prepare('DELETE FROM checkpoints WHERE size = ? AND root = ? AND tip < ?').run(c.size, c.root, finalFrom)
    return this.insert({ ...c, source: rows.some(r => r.source === 'self') ? 'self' : c.source })
  }

  /** The distinct trees (size, root) of the stored notes with `after` < size ≤ `upTo`, smallest first, at most `limit`. */
  treesBetween (after: number, upTo: number, limit: number): Array<{ size: number, root: string }> {
    return this.db.prepare<unknown[], { size: number, root: string }>('SELECT size, root FROM checkpoints WHERE size > ? AND size <= ? GROUP BY size, root ORDER BY size LIMIT ?').all(after, upTo, limit)
  }

  /**
   * Drop the notes of tree size `size` over another root than `root` that do not claim to be final
   * (signed at a tip below size − 1 + maxReorgDepth): notes of a branch a reorg abandoned
   * (proof/stored.ts, dropAbandonedLocked). The number dropped.
   */
  dropOtherRoots (size: number, root: string, maxReorgDepth: number): number {
    this.assertTx()
    return this.db.prepare('DELETE FROM checkpoints WHERE size = ? AND root != ? AND tip < ?').run(size, root, size - 1 + maxReorgDepth).changes
  }

  /** The stored notes of checkpoint text `text` (of tree size `size`), oldest first. */
  ofText (size: number, text: string): Array<CheckpointRecord & { id: number }> {
    const prefix = text + '\n'
    return this.db.prepare<unknown[], Row & { id: number }>('SELECT id, size, root, tip, note, received_at, source FROM checkpoints WHERE size = ? AND substr(note, 1, ?) = ? ORDER BY id')
      .all(size, prefix.length, prefix).map(r => ({ ...toRecord(r), id: r.id }))
  }

  /** Checkpoints with minSize ≤ size ≤ maxSize, largest (then latest signed) first. */
  list (o: { minSize?: number, maxSize?: number, limit?: number } = {}): CheckpointRecord[] {
    return this.db.prepare<unknown[], Row>('SELECT size, root, tip, note, received_at, source FROM checkpoints WHERE size BETWEEN ? AND ? ORDER BY size DESC, tip DESC, id DESC LIMIT ?')
      .all(o.minSize ?? 0, o.maxSize ?? Number.MAX_SAFE_INTEGER, o.limit ?? 100).map(toRecord)
  }

  /**
   * Remember that `source` (`peer <id>`) sent a checkpoint of tree size `size` that this node
   * accepted, kept or not (it may have added nothing): in chain.db's meta, the largest one only,
   * as `N seq`. Of SENT_KEPT peers at most, those whose N rose last (`seq`): a peer id costs
   * nothing, and every one that sent a public note added a row for good (review53b).
   */
  sentBy (source: string, size: number): void {
    this.assertTx()
    if (size - 1 <= (this.sentNoted(source) ?? -1)) return
    const others = this.db.prepare<unknown[], { key: string, value: string }>('SELECT key, value FROM meta WHERE key GLOB ? AND key <> ?').all(`${SENT_META}*`, SENT_META + source)
      .map(r => ({ key: r.key, seq: Number(r.value.split(' ')[1] ?? 0) || 0 })).sort((a, b) => a.seq - b.seq)
    const seq = (others.at(-1)?.seq ?? 0) + 1
    this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(SENT_META + source, `${size - 1} ${seq}`)
    for (const r of others.slice(0, Math.max(0, others.length - SENT_KEPT + 1))) this.db.prepare('DELETE FROM meta WHERE key = ?').run(r.key)
  }

  /**
   * The highest block the checkpoints received from `source` (`peer <id>`) covered, if any: for
   * PROOF_NO_CHECKPOINT's hint ("sent it checkpoints up to block N"). Remembered apart from the
   * rows (sentBy) since session 53: a row takes the source of the peer that added its last line,
   * and a final note drops the same tree's notes of lower tips, so the rows' sources named a lower
   * block than the peer had sent, or none. The rows still count for a directory written earlier.
   */
  sentUpTo (source: string): number | undefined {
    const meta = this.sentNoted(source)
    // A scan of every note (no index on source): for the hint only, never per received note (review53b).
    const rows = this.db.prepare<unknown[], { size: number | null }>('SELECT MAX(size) AS size FROM checkpoints WHERE source = ?').get(source)?.size ?? undefined
    const all = [meta, rows === undefined ? undefined : rows - 1].filter((n): n is number => n !== undefined && Number.isSafeInteger(n))
    return all.length === 0 ? undefined : Math.max(...all)
  }

  /** Each witness key's row of the last tree it cosigned (meta `witness_last_cosigned <SPKI hex>`, since session 57). */
  lastCosignedRows (): Array<{ key: string, value: string }> {
    return this.db.prepare<unknown[], { key: string, value: string }>('SELECT substr(key, ?) AS key, value FROM meta WHERE key GLOB ?').all(WITNESS_KEY_LAST_META.length + 1, `${WITNESS_KEY_LAST_META}*`)
  }

  /** What sentBy noted of `source` (chain.db's meta only: one lookup), if anything. */
  sentNoted (source: string): number | undefined {
    const v = this.db.prepare<unknown[], { value: string }>('SELECT value FROM meta WHERE key = ?').get(SENT_META + source)?.value
    const n = v === undefined ? NaN : Number(v.split(' ')[0])
    return Number.isSafeInteger(n) ? n : undefined
  }
}

/** chain.db's meta key under which sentBy keeps the highest block a source's checkpoints covered. */
const SENT_META = 'checkpoints_sent_by '
/** How many peers sentBy remembers. */
export const SENT_KEPT = 256
/** chain.db meta: the verifier key under which this node cosigned (`petal run --witness`). */
export const OWN_WITNESS_META = 'witness_vkey'
/** chain.db meta: the tree a witness last cosigned, `size root`, which each one it cosigns must extend. */
export const WITNESS_LAST_META = 'witness_last_cosigned'
/**
 * chain.db meta, followed by a key's SPKI in hex: the tree that witness key last cosigned, `size
 * root` (since session 57). WITNESS_LAST_META, one row shared by every key, is an older Petal's.
 */
export const WITNESS_KEY_LAST_META = `${WITNESS_LAST_META} `
/** chain.db meta: the record of `petal witnesses reset` (a JSON array), whose retired keys cosign no more. */
export const WITNESS_RESETS_META = 'witness_resets'

/**
 * The meta rows of the checkpoints, which no block file holds (a SQL condition on `key`): kept by
 * reindex with the checkpoints (IndexDb.clear). Emptied until review53b: a witness forgot the tree
 * it had cosigned (and would cosign another history), its own cosignatures went unverified here
 * until it cosigned again, and what each peer had sent was forgotten.
 */
export const CHECKPOINT_META = `(key IN ('${OWN_WITNESS_META}', '${WITNESS_LAST_META}', '${WITNESS_RESETS_META}') OR key GLOB '${SENT_META}*' OR key GLOB '${WITNESS_KEY_LAST_META}*')`
