import { closeSync, openSync, readFileSync, renameSync, unlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { isRecord, tempTag, writeFullySync } from '../util/index.js'

/**
 * `index-tip.json`: the canonical tip (height and hash) of chain.db's last commit that moved it,
 * written after that commit is durable, beside chain.db. Never a block the index did not commit,
 * so recovery can tell an older chain.db put back (a backup one block behind the files: the record
 * names the block at the index's tip + 1, and its file hashes to it) from an import cut short (the
 * record names the index's tip): nothing else in the directory tells them apart (session 56,
 * docs/data-directory.md "Crash safety"). Not fsynced: lost or torn (a power cut), it names an
 * older commit or nothing, and recovery then judges as it did before it existed.
 */
export const TIP_RECORD_FILE = 'index-tip.json'

// Not `chain.db-tip` (its name until session 57): a backup of the index by `cp chain.db* …` copied
// the record with it, and put back, the record named the backup's own tip, so the committed block
// at its tip + 1 was removed as an import cut short. Named outside `chain.db*`, the record stays
// when only the index is put back, and names the newer commit that keeps that block.
const OLD_NAME = '-tip'
const recordPath = (db: string): string => join(dirname(db), TIP_RECORD_FILE)

export interface TipRecord { height: number, hash: string }

/**
 * Record the tip (`hash`, then `tip()`) of the chain.db at `db` after a commit that moved it from
 * `before` (read under the write lock before the write); a failure to write is ignored (the record
 * is a hint to recovery). Never after one that did not: written after any commit, an older
 * chain.db's tip (a checkpoint a node just started on it signed or received) replaced the record
 * that kept its committed block at tip + 1, and the next seal's recovery removed that block and
 * sealed another at its height (review57).
 */
export function noteTip (db: string, before: string | undefined, hash: string | undefined, read: () => TipRecord | undefined): void {
  if (hash === undefined || hash === before) return
  const tip = read()
  if (tip === undefined) return
  const path = recordPath(db)
  const tmp = `${path}.${tempTag()}.tmp`
  try {
    // open, write and close rather than writeFileSync, whose JavaScript a 100-row import would
    // otherwise compile for this one call (test/e2e/import-node-calls.test.ts).
    const fd = openSync(tmp, 'w')
    try {
      writeFullySync(fd, JSON.stringify({ height: tip.height, hash: tip.hash }) + '\n')
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch {
    try { unlinkSync(tmp) } catch {}
  }
  // The older name would be stale from now on (an ENOENT a commit that moved the tip, otherwise).
  try { unlinkSync(db + OLD_NAME) } catch {}
}

/**
 * The recorded tip of the chain.db at `db`, or undefined (none, unreadable, torn). Without
 * `index-tip.json`, session 56's `chain.db-tip`: a directory that Petal left with an older chain.db
 * put back under it names the committed block at tip + 1 there only, and its first open by this
 * Petal removed that block. Never worse than no record: it names a block the index committed.
 */
export function readTipRecord (db: string): TipRecord | undefined {
  let text: string
  try {
    text = readFileSync(recordPath(db), 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return undefined
    try { text = readFileSync(db + OLD_NAME, 'utf8') } catch { return undefined }
  }
  try {
    const r: unknown = JSON.parse(text)
    if (isRecord(r) && typeof r.height === 'number' && Number.isSafeInteger(r.height) && typeof r.hash === 'string' && /^[0-9a-f]{64}$/.test(r.hash)) return { height: r.height, hash: r.hash }
  } catch {}
  return undefined
}
