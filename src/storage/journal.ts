import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs'
import { errorMessage, failpoint, fsyncDirAsync, fsyncPathAsync, isNotFound, isRecord, parseJson, writeFileAtomic, atomicTempPath } from '../util/index.js'
import { StorageError } from './errors.js'
import { moveBlock, placeRenamed } from './block-files.js'
import { dirname } from 'node:path'
import { sealPathOf, type DataDir } from './layout.js'
import { checkDataFile } from './data-file.js'

/** One file move of a multi-file change (a new block moves from its tmp/ path). */
export interface Move { from: string, to: string }

/**
 * Intent record for a multi-file change (a reorg, or a side block placed in forks/). Written and
 * fsynced before the first move; the change is committed by the index transaction that records
 * `commit`. Recovery rolls the moves back if that block is not in the index, else drops the record.
 */
export interface Journal {
  /** Hash of the block whose index row commits the change. */
  commit: string
  moves: Move[]
}

export function writeJournal (dir: DataDir, j: Journal): void {
  writeFileAtomic(dir.journal, JSON.stringify(j))
}

/**
 * writeJournal off the event loop (a group's placement: the node keeps receiving meanwhile): the
 * same temp file, fsync, rename and directory fsync, in two round trips to libuv's thread pool
 * (the fsyncs) instead of one per step, each of which queues behind the other flushes there.
 */
export async function writeJournalAsync (dir: DataDir, j: Journal): Promise<void> {
  const tmp = atomicTempPath(dir.journal)
  try {
    await fsyncPathAsync(tmp, 'w', JSON.stringify(j))
    renameSync(tmp, dir.journal)
  } catch (err) {
    rmSync(tmp, { force: true })
    throw err
  }
  await fsyncDirAsync(dirname(dir.journal))
}

export function readJournal (dir: DataDir): Journal | undefined {
  let text: string
  try {
    checkDataFile(dir.journal, 'journal')
    text = readFileSync(dir.journal, 'utf8')
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
  let j: unknown
  try {
    j = parseJson(text)
  } catch (err) {
    // A torn journal cannot come from Petal (atomic write); a damaged disk or a hand edit can.
    throw journalInvalid(dir, errorMessage(err))
  }
  const moves = isRecord(j) && Array.isArray(j.moves)
    ? j.moves.flatMap((m: unknown): Move[] => isRecord(m) && typeof m.from === 'string' && typeof m.to === 'string' ? [{ from: m.from, to: m.to }] : [])
    : []
  if (!isRecord(j) || typeof j.commit !== 'string' || !Array.isArray(j.moves) || moves.length !== j.moves.length) {
    throw journalInvalid(dir, 'it does not have the shape of a journal')
  }
  return { commit: j.commit, moves }
}

function journalInvalid (dir: DataDir, why: string): StorageError {
  return new StorageError('JOURNAL_INVALID', `the journal of an interrupted change, ${dir.journal}, cannot be read: ${why}`, {
    hint: `move ${dir.journal} out of the data directory (keep it), then run \`petal verify\`: it names any block file an interrupted change left out of place`,
    details: { path: dir.journal }
  })
}

export function removeJournal (dir: DataDir): void {
  try {
    unlinkSync(dir.journal)
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
}

/** Perform the moves in order (each is idempotent). */
export function applyMoves (moves: readonly Move[]): void {
  for (const [i, m] of moves.entries()) {
    moveBlock(m.from, m.to)
    if (i === 0) failpoint('journal:first-move')
  }
}

/**
 * applyMoves for a group placed under one journal: every rename first, then each directory
 * involved fsynced once (not twice per move), all at once on the thread pool. Until those fsyncs
 * any subset of the renames may be lost in a crash; the journal, durable before the first
 * rename, undoes whichever survived. Resolves once every directory is durable.
 */
export async function applyMovesGrouped (moves: readonly Move[]): Promise<void> {
  // Each slot directory is made once, not once per block.
  for (const d of new Set(moves.map(m => dirname(m.to)))) mkdirSync(d, { recursive: true })
  for (const [i, m] of moves.entries()) {
    placeRenamed(m.from, m.to)
    if (i === 0) failpoint('batch:first-move')
  }
  await Promise.all([...new Set(moves.flatMap(m => [dirname(m.to), dirname(m.from)]))].map(fsyncDirAsync))
}

/**
 * Whether the files show every move of `moves` made: each destination holds its block file and
 * seal, and each source is empty, or refilled by a later move (a reorg's slot), or is the same
 * file (a power cut that kept a tmp/ name). A journal's moves are made in order, so a change cut
 * short leaves a destination empty or a source still holding its own file.
 */
export function movesDone (moves: readonly Move[]): boolean {
  return moves.every((m, i) => {
    const to = statSync(m.to, { throwIfNoEntry: false })
    if (to === undefined || !existsSync(sealPathOf(m.to))) return false
    const from = statSync(m.from, { throwIfNoEntry: false })
    if (from === undefined || moves.slice(i + 1).some(n => n.to === m.from)) return true
    return from.ino === to.ino && from.dev === to.dev
  })
}

/** Reverse the moves, newest first. A block that came from tmp/ goes back there (garbage). */
export function undoMoves (moves: readonly Move[]): void {
  for (const m of [...moves].reverse()) moveBlock(m.to, m.from)
}
