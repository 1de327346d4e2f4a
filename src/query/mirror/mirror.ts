import { existsSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Chain } from '../../chain/index.js'
import { type BlockRecord, closeOrLeave, openSqlite, openSqliteReadonly, systemFailure, tmpBlockPath, type SqliteDb } from '../../storage/index.js'
import { sha256File, sha256Hex } from '../../crypto/index.js'
import { errorCode, errorMessage, Mutex, nullLogger, sleep, throwIfAborted, type Logger } from '../../util/index.js'
import { QueryError } from '../errors.js'
import { applyBlock, MIRROR_BUSY_MS, type BlockCopy, type SkippedBlock } from './apply.js'
import { copyRegular, readExact, readExactSync } from './block-bytes.js'

// Blocks up to this size are read into memory (one read, no temporary file); larger ones are
// copied to tmp/ and read by SQLite page by page, so memory stays bounded whatever the block size.
const IN_MEMORY_MAX_BYTES = 4 * 1024 * 1024
// Blocks up to this size are read synchronously: a read of a few pages from the page cache takes
// less time than one of the four thread-pool round trips of an asynchronous readFile (a 100-row
// import's mirror update; docs/performance/import.md, "Session 21: the 100-row import").
const SYNC_READ_MAX_BYTES = 256 * 1024
import { dropEverything, initSchema, MIRROR_SCHEMA_VERSION, readSkippedBlocks } from './layout.js'
import { rollbackTo } from './rollback.js'


export interface MirrorTip { height: number, hash: string }

export interface MirrorSyncReport {
  /** Blocks appended. */
  applied: number
  /** Blocks removed because they left the canonical chain. */
  rolledBack: number
  /** The mirror's tip afterwards (undefined: empty). */
  tip?: MirrorTip
  /**
   * Set when the mirror stops below the chain's tip because a block's file is missing or damaged
   * (MIRROR_BLOCK_MISSING): it keeps every block below, and catches up once the file is back.
   */
  stoppedAt?: MirrorStop
  /** Blocks this sync left out of the mirror (see QueryMirror.skipped). */
  skipped: SkippedBlock[]
  /** Another process was writing query.db and the sync did not wait for it (MirrorSyncOptions.wait). */
  busy?: boolean
}

export interface MirrorStop { height: number, hash: string, code: 'MIRROR_BLOCK_MISSING', message: string, hint: string }

export interface MirrorSyncOptions {
  signal?: AbortSignal
  /**
   * Wait for another process that is writing query.db (default true). false: a reader's sync —
   * stop at once when the mirror is busy and report `busy`, leaving the mirror as it is.
   */
  wait?: boolean
  onProgress?: (p: { done: number, total: number }) => void
}

// Blocks read from the index per planning step, and how often a block that cannot be found (or a
// mirror that another process keeps moving) is retried before the sync gives up.
const BATCH = 256
const MAX_RETRIES = 8
// A block file that stays unreadable while this many looks pass is missing or damaged, not moving.
const MISSING_RETRIES = 3

/**
 * The query mirror (query.db): every canonical block's user tables unioned by name, with
 * `_height`, plus `_blocks` and `_tables`. It is derived and pull-based: it records which
 * (height, hash) it holds in `_blocks`, and `sync` reconciles it with the index — rolling back
 * heights whose hash is no longer canonical, then appending the missing blocks one transaction
 * each — so it never holds a block the chain does not, recovers from a crash by itself, and any
 * number of processes may sync it concurrently (each step re-checks its premise under the
 * mirror's write lock). Readers (the query sandbox) see a consistent prefix of the chain.
 */
export class QueryMirror {
  private readonly mutex = new Mutex()
  /** The errno of the last read of a block file the disk failed (EIO), for the stop's message. */
  private readFailed: string | undefined

  private constructor (private readonly chain: Chain, private db: SqliteDb, private readonly logger: Logger) {}

  /** Open (creating, or recreating when unusable) the mirror of `chain`. Does not sync. */
  static open (chain: Chain, options: { logger?: Logger } = {}): QueryMirror {
    const logger = options.logger ?? chain.logger ?? nullLogger
    return new QueryMirror(chain, openMirrorDb(chain, logger), logger)
  }

  get path (): string { return this.chain.dir.queryDb }

  /** Close the connection (or leave it for the process's exit: closeOrLeave). */
  close (): void {
    closeOrLeave(this.db)
  }

  /** The highest block the mirror holds. */
  tip (): MirrorTip | undefined {
    return this.db.prepare<unknown[], MirrorTip>('SELECT height, hash FROM _blocks ORDER BY height DESC LIMIT 1').get()
  }

  /** Canonical blocks the mirror leaves out, with the coded reason, by height. */
  skipped (): SkippedBlock[] {
    return readSkippedBlocks(this.db)
  }

  /** Bring the mirror to the index's canonical chain. Safe to call at any time, from any process. */
  async sync (options: MirrorSyncOptions = {}): Promise<MirrorSyncReport> {
    return await this.mutex.run(async () => await this.syncLocked(options))
  }

  /** `petal reindex --query`: empty the mirror and build it again from the block files. */
  async rebuild (options: MirrorSyncOptions = {}): Promise<MirrorSyncReport> {
    return await this.mutex.run(async () => {
      this.db.transaction(() => {
        dropEverything(this.db)
        initSchema(this.db, this.chain.chainId)
      }).immediate()
      this.logger.info('query mirror emptied for a rebuild')
      return await this.syncLocked(options)
    })
  }

  private async syncLocked (o: MirrorSyncOptions): Promise<MirrorSyncReport> {
    if (o.wait !== false) return await this.reconcile(o)
    this.db.pragma('busy_timeout = 0')
    try {
      return await this.reconcile(o)
    } catch (err) {
      if (errorCode(err) !== 'SQLITE_BUSY') throw err
      this.logger.debug('query mirror busy (another process is updating it); querying it as it is')
      return { applied: 0, rolledBack: 0, tip: this.tip(), skipped: [], busy: true }
    } finally {
      this.db.pragma(`busy_timeout = ${MIRROR_BUSY_MS}`)
    }
  }

  private async reconcile (o: MirrorSyncOptions): Promise<MirrorSyncReport> {
    const index = this.chain.index
    let applied = 0
    let rolledBack = 0
    const skipped: SkippedBlock[] = []
    let retries = 0
    let missing = 0
    let stoppedAt: MirrorStop | undefined
    let total: number | undefined
    const retry = async (why: string, details: { height: number, hash?: string }): Promise<void> => {
      if (++retries > MAX_RETRIES) {
        throw new QueryError('MIRROR_BLOCK_MISMATCH', `query mirror: ${why}`, { hint: 'run `petal verify --repair`; if the block files are fine, `petal reindex` then `petal reindex --query`', details })
      }
      await sleep(Math.min(1600, 25 * 2 ** (retries - 1)), o.signal)
    }
    while (stoppedAt === undefined) {
      throwIfAborted(o.signal)
      const tip = this.tip()
      if (tip !== undefined && index.byHeight(tip.height)?.hash !== tip.hash) {
        const fork = this.forkPoint(tip.height)
        const n = rollbackTo(this.db, fork)
        rolledBack += n
        if (n > 0) this.logger.info('query mirror rolled back blocks that left the canonical chain', { fromHeight: fork + 1, blocks: n })
        continue
      }
      const from = tip === undefined ? 0 : tip.height + 1
      const recs = index.range(from, from + BATCH - 1, BATCH)
      if (recs.length === 0) break
      total ??= (index.tip()?.height ?? from) - from + 1
      for (const rec of recs) {
        const copy = await this.copyBlock(rec)
        if (copy === undefined) {
          // A reorg in another process may be moving the file right now: look again a few times.
          // A file that stays missing or damaged stops the mirror here; it keeps what it has.
          if (++missing > MISSING_RETRIES) { stoppedAt = missingBlock(rec, this.readFailed, this.chain.dir.daisySource); break }
          await sleep(25 * 2 ** (missing - 1), o.signal)
          break
        }
        missing = 0
        let result: ReturnType<typeof applyBlock>
        try {
          result = applyBlock(this.path, rec, copy, () => tmpBlockPath(this.chain.dir), o.wait === false ? 0 : MIRROR_BUSY_MS, rec.version === 1 ? this.chain.index.tablesOf(rec.hash) : undefined)
        } finally {
          await removeCopy(copy)
        }
        if (result === 'stale') { await retry('the mirror keeps changing under this sync', { height: rec.height }); break }
        if (result !== 'applied') {
          skipped.push(result.skipped)
          this.logger.info('query mirror leaves out a block it cannot hold; queries cover the other blocks', { ...result.skipped })
        }
        retries = 0
        applied++
        o.onProgress?.({ done: applied, total: Math.max(total, applied) })
        // Let a long catch-up share the event loop (a node syncs in its own process).
        if (applied % 16 === 0) await new Promise(resolve => setImmediate(resolve))
        throwIfAborted(o.signal)
      }
    }
    const tip = this.tip()
    if (applied > 0) this.logger.debug('query mirror synced', { applied, height: tip?.height })
    if (stoppedAt !== undefined) this.logger.warn(stoppedAt.message, { code: stoppedAt.code, height: stoppedAt.height })
    return { applied, rolledBack, tip, stoppedAt, skipped }
  }

  /**
   * The block's bytes (up to IN_MEMORY_MAX_BYTES) or, for a larger block, a private copy of its
   * file in the data directory's tmp/, checked against its hash (streamed: never a large block
   * whole in memory). A reorg in another process may be moving it
   * between its height's path and forks/ right now, so both places are tried.
   */
  private async copyBlock (rec: BlockRecord): Promise<BlockCopy | undefined> {
    this.readFailed = undefined
    const failed = (err: unknown): void => { const c = errorCode(err); if (c !== undefined && READ_FAILURES.has(c)) this.readFailed = c }
    for (const path of this.chain.dir.wherever(rec.height, rec.hash)) {
      if (rec.size <= IN_MEMORY_MAX_BYTES) {
        try {
          // Opened without waiting on a named pipe and refused unless regular (block-bytes.ts); a
          // missing file (ENOENT) tries the next place.
          const bytes = rec.size <= SYNC_READ_MAX_BYTES ? readExactSync(path, rec.size) : await readExact(path, rec.size)
          if (bytes !== undefined && sha256Hex(bytes) === rec.hash) return bytes
        } catch (err) { failed(err) }
        continue
      }
      const copy = tmpBlockPath(this.chain.dir)
      try {
        if (await copyRegular(path, copy) && await sha256File(copy) === rec.hash) return copy
      } catch (err) { failed(err) }
      await removeCopy(copy)
    }
    return undefined
  }

  /** The highest height at or below `top` where the mirror and the canonical chain agree (-1: none). */
  private forkPoint (top: number): number {
    for (let hi = top; hi >= 0; hi -= 64) {
      const lo = Math.max(0, hi - 63)
      const mine = this.db.prepare<unknown[], MirrorTip>('SELECT height, hash FROM _blocks WHERE height BETWEEN ? AND ? ORDER BY height DESC').all(lo, hi)
      const canon = new Map(this.chain.index.range(lo, hi, 64).map(b => [b.height, b.hash]))
      const match = mine.find(b => canon.get(b.height) === b.hash)
      if (match !== undefined) return match.height
    }
    return -1
  }
}

async function removeCopy (copy: BlockCopy): Promise<void> {
  if (typeof copy !== 'string') return
  for (const f of [copy, `${copy}-journal`]) await rm(f, { force: true })
}

/** Errors of reading a block file that are the machine's, not a missing or changed file. */
const READ_FAILURES = new Set(['EIO', 'EACCES', 'EPERM', 'EMFILE', 'ENFILE'])

function missingBlock (rec: BlockRecord, readFailed: string | undefined, daisy: string | undefined): MirrorStop {
  // The disk failed the read (EIO): "missing or damaged" and `verify --repair` (which fails on
  // the same read) were not true (mend34).
  if (readFailed !== undefined) {
    return {
      height: rec.height,
      hash: rec.hash,
      code: 'MIRROR_BLOCK_MISSING',
      message: `the query mirror stops at height ${rec.height - 1}: the file of block ${rec.height} could not be read (${readFailed})`,
      hint: readFailed === 'EIO'
        ? 'check the disk (dmesg, fsck): the next query reads the file again; `petal verify` says whether it stays unreadable; until then queries see the blocks below it'
        : readFailed.startsWith('E') && readFailed.endsWith('FILE') ? 'raise the limit of open files (`ulimit -n`); until then queries see the blocks below it' : 'check the owner and mode of the block files, or run as a user who may read them; until then queries see the blocks below it'
    }
  }
  return {
    height: rec.height,
    hash: rec.hash,
    code: 'MIRROR_BLOCK_MISSING',
    message: `the query mirror stops at height ${rec.height - 1}: the file of block ${rec.height} is missing or damaged`,
    // A Daisy directory's file is Daisy's: verify --repair refuses it (DAISY_READ_ONLY); the
    // mirror catches up by itself once the file is back (session 56).
    hint: daisy !== undefined
      ? `put the Daisy block file back from a backup or another Daisy node's directory (it must hash to the value ${join(daisy, 'daisy.db')} records), then run the command again: the query mirror catches up; until then queries see the blocks below it`
      : 'put it back with `petal verify --repair`; until then queries see the blocks below it'
  }
}

/**
 * Open query.db for writing. A mirror of another chain or of another layout version is emptied
 * in place (concurrent readers keep their snapshot); a file SQLite cannot read at all is deleted.
 */
function openMirrorDb (chain: Chain, logger: Logger): SqliteDb {
  const path = chain.dir.queryDb
  for (let attempt = 0; ; attempt++) {
    let db: SqliteDb | undefined
    try {
      db = openSqlite(path, { timeout: MIRROR_BUSY_MS })
      db.pragma('trusted_schema = OFF')
      if (db.pragma('journal_mode = WAL', { simple: true }) !== 'wal') throw new Error('cannot switch query.db to WAL mode')
      db.pragma('synchronous = NORMAL')
      const d = db
      const state = (): 'ok' | 'missing' | 'foreign' => {
        if (d.prepare("SELECT 1 FROM sqlite_schema WHERE name = '_mirror'").get() === undefined) return 'missing'
        const meta = new Map((d.prepare<unknown[], { key: string, value: string }>('SELECT key, value FROM _mirror').all()).map(r => [r.key, r.value]))
        return meta.get('schema_version') === MIRROR_SCHEMA_VERSION && meta.get('chain_id') === chain.chainId ? 'ok' : 'foreign'
      }
      // Usually the mirror is in shape and opening it takes no lock; otherwise, set it up under one.
      if (state() !== 'ok') {
        d.transaction(() => {
          const s = state()
          if (s === 'ok') return
          if (s === 'foreign') {
            logger.warn('query mirror belongs to another chain or layout version: rebuilding it', { path })
            dropEverything(d)
          }
          initSchema(d, chain.chainId)
        }).immediate()
      }
      return db
    } catch (err) {
      db?.close()
      const code = errorCode(err)
      if (attempt === 0 && (code === 'SQLITE_NOTADB' || code?.startsWith('SQLITE_CORRUPT') === true)) {
        logger.warn('query mirror is unreadable: recreating it', { path, code })
        for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true })
        continue
      }
      // The disk's failure (a read of query.db-wal failing EIO) gets its own hint, not "check permissions" (mend35).
      const sys = systemFailure(err)
      const hint = sys?.hint === undefined || sys.code === 'PERMISSION_DENIED' ? 'check permissions on the data directory' : sys.hint
      throw new QueryError('MIRROR_UNAVAILABLE', `cannot open the query mirror ${path}: ${errorMessage(err)}`, { hint: `${hint}; \`petal reindex --query\` rebuilds it`, cause: err })
    }
  }
}

/**
 * The blocks query.db leaves out, read without writing anything (a read-only data directory, or
 * `query --no-sync`); none when there is no mirror yet.
 */
export function mirrorSkippedBlocks (path: string): SkippedBlock[] {
  if (!existsSync(path)) return []
  let db: SqliteDb | undefined
  try {
    db = openSqliteReadonly(path)
    return readSkippedBlocks(db)
  } finally {
    db?.close()
  }
}
