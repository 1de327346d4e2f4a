import { rmSync, writeFileSync } from 'node:fs'
import { BlockError, canonicalOrder, canonicalSource, inspectSchema, neutraliseModules, openBlockReadonly, type SqlValue, type UserTable } from '../../block/index.js'
import { type BlockRecord, openSqlite, type SqliteDb, type TableRecord } from '../../storage/index.js'
import { errorCode, errorMessage, pausepointSync } from '../../util/index.js'
import { asciiLower, quoteIdent } from '../names.js'
import { parseColumns, probeColumns, unionColumns, type ColumnInfo } from './columns.js'
import { getMirrorTable, MAX_MIRROR_COLUMNS, setMirrorTable, type SkippedBlock } from './layout.js'

export type { SkippedBlock } from './layout.js'

const q = quoteIdent

/** How long a mirror writer waits for another one (another process syncing) before failing. */
export const MIRROR_BUSY_MS = 30_000

/** Where the block is read and where the mirror is written: one connection (fast path) or two. */
interface Copy {
  /** The connection holding the block as `main`. */
  block: SqliteDb
  /** The connection and schema name of the mirror. */
  mirror: SqliteDb
  m: string
  /** A v1 (Daisy) block has no `_tables`: its entries as the index computed them. */
  v1Tables?: readonly TableRecord[]
}

/**
 * Apply one canonical block to the mirror, all or nothing. The block comes as `copy`, a private
 * copy of its file already checked against its hash: the block file itself is never opened by a
 * connection that can write, and a block moved by a concurrent reorg cannot be read half-way.
 * SQLite reads the copy page by page, so memory does not grow with the block's size.
 *
 * Fast path: the copy is opened by a writable connection, the mirror attached to it, and every
 * user table appended with INSERT … SELECT (no row passes through JavaScript). A schema SQLite
 * refuses to load into a writable connection (a CHECK calling a direct-only function: SQLite only
 * parses CHECKs of files it could write) takes the slow path instead: the copy is opened
 * read-only and rows are copied one by one. Both give the same rows.
 *
 * Returns 'stale' when the mirror's tip is no longer the block's parent (another process moved
 * it): the caller re-plans. `scratch` names a private file for the slow path's copy of bytes held
 * in memory (a file in the data directory's tmp/, which a kill leaves to tmp/'s cleaners).
 */
export function applyBlock (mirrorPath: string, rec: BlockRecord, copy: BlockCopy, scratch: () => string, busyMs = MIRROR_BUSY_MS, v1Tables?: readonly TableRecord[]): ApplyResult {
  try {
    return applyCopy(mirrorPath, rec, copy, scratch, busyMs, v1Tables)
  } catch (err) {
    const fault = blockFault(err, rec)
    if (fault === undefined) throw err
    return skipBlock(mirrorPath, rec, fault, busyMs)
  }
}

/** A checked copy of a block: its bytes in memory (a small block), or a private file in tmp/ (any other). */
export type BlockCopy = Buffer | string

/** 'applied', 'stale' (re-plan), or left out of the mirror for a reason in its content. */
export type ApplyResult = 'applied' | 'stale' | { skipped: SkippedBlock }

function applyCopy (mirrorPath: string, rec: BlockRecord, copy: BlockCopy, scratch: () => string, busyMs: number, v1Tables?: readonly TableRecord[]): 'applied' | 'stale' {
  const db = openSqlite(copy, typeof copy === 'string' ? { timeout: busyMs, fileMustExist: true } : { timeout: busyMs })
  try {
    neutraliseModules(db)
    db.pragma('trusted_schema = OFF')
    db.pragma('cell_size_check = ON')
    db.prepare('ATTACH ? AS m').run(mirrorPath)
    db.pragma('m.synchronous = NORMAL')
    return applyIn({ block: db, mirror: db, m: 'm', v1Tables }, rec)
  } catch (err) {
    if (!errorMessage(err).includes('malformed database schema')) throw err
  } finally {
    db.close()
  }
  return applySlow(mirrorPath, rec, copy, scratch, busyMs, v1Tables)
}

function applySlow (mirrorPath: string, rec: BlockRecord, copy: BlockCopy, scratch: () => string, busyMs: number, v1Tables?: readonly TableRecord[]): 'applied' | 'stale' {
  // Bytes held in memory go to a private file first: a read-only connection needs one. It was a
  // `petal-mirror-XXXXXX` directory in the system's temporary directory, which a kill left for good.
  const own = typeof copy === 'string' ? undefined : scratch()
  try {
    const file = own ?? copy as string
    if (typeof copy !== 'string') writeFileSync(file, copy, { mode: 0o600, flag: 'wx' })
    pausepointSync('mirror:slow-copy')
    const block = openBlockReadonly(file)
    const mirror = openSqlite(mirrorPath, { timeout: busyMs })
    try {
      mirror.pragma('trusted_schema = OFF')
      mirror.pragma('synchronous = NORMAL')
      return applyIn({ block, mirror, m: 'main', v1Tables }, rec)
    } finally {
      block.close()
      mirror.close()
    }
  } finally {
    if (own !== undefined) for (const f of [own, `${own}-journal`]) rmSync(f, { force: true })
  }
}

function applyIn (c: Copy, rec: BlockRecord): 'applied' | 'stale' {
  const { mirror, m } = c
  mirror.exec('BEGIN IMMEDIATE')
  try {
    const tip = mirror.prepare<unknown[], { height: number, hash: string }>(`SELECT height, hash FROM ${m}._blocks ORDER BY height DESC LIMIT 1`).get()
    const fits = rec.height === 0 ? tip === undefined : tip?.height === rec.height - 1 && tip.hash === rec.parent
    if (!fits) { mirror.exec('ROLLBACK'); return 'stale' }
    const schema = inspectSchema(c.block, rec.version === 1 ? 1 : 2)
    for (const t of schema.userTables) copyTable(c, rec.height, t)
    if (rec.version === 1) {
      const ins = mirror.prepare(`INSERT INTO ${m}._tables (_height, name, sql, rows, root) VALUES (?, ?, ?, ?, ?)`)
      for (const t of c.v1Tables ?? []) ins.run(rec.height, t.name, t.sql, t.rows, t.root)
    } else {
      copyRows(c, ['name', 'sql', 'rows', 'root'], 'main._tables ORDER BY name', `${m}._tables`, rec.height)
      if (schema.has.recipients) copyRows(c, ['block', 'recipient', 'pubkey', 'wrapped', 'columns'], 'main._recipients ORDER BY block, recipient', `${m}._recipients`, rec.height)
    }
    insertBlockRow(mirror, m, rec)
    mirror.exec('COMMIT')
    return 'applied'
  } catch (err) {
    if (mirror.inTransaction) mirror.exec('ROLLBACK')
    throw err
  }
}

// SQLite results that say something about this machine (disk, permissions, locks, the mirror file
// itself), never about a block's content: the sync fails (and is retried) instead of leaving the
// block out for good.
const ENVIRONMENT = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_NOMEM',
  'SQLITE_PERM', 'SQLITE_INTERRUPT', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_PROTOCOL', 'SQLITE_AUTH', 'SQLITE_NOLFS', 'SQLITE_ABORT']

/**
 * Whether `err` is the block's own fault — a schema the block rules refuse (a block accepted by
 * an older Petal), or content SQLite cannot copy into the mirror — and then why.
 */
function blockFault (err: unknown, rec: BlockRecord): SkippedBlock | undefined {
  const at = { height: rec.height, hash: rec.hash }
  if (err instanceof BlockError) return { ...at, code: err.code, message: err.message }
  const code = errorCode(err)
  if (code === undefined || !code.startsWith('SQLITE_')) return undefined
  if (ENVIRONMENT.some(e => code === e || code.startsWith(e + '_'))) {
    // A schema even a read-only connection cannot load is the block's (SQLite reports it as corrupt).
    if (!errorMessage(err).includes('malformed database schema')) return undefined
    return { ...at, code: 'CORRUPT', message: `SQLite cannot read the block's schema: ${errorMessage(err)}` }
  }
  return { ...at, code: 'MIRROR_SCHEMA', message: `SQLite cannot copy the block into the mirror: ${errorMessage(err)}` }
}

/**
 * Record a canonical block the mirror cannot hold: its `_blocks` row (so later blocks follow it)
 * and the reason in `_mirror_skipped`, none of its rows. Queries over the other blocks go on.
 */
function skipBlock (mirrorPath: string, rec: BlockRecord, why: SkippedBlock, busyMs: number): ApplyResult {
  const mirror = openSqlite(mirrorPath, { timeout: busyMs })
  try {
    mirror.pragma('synchronous = NORMAL')
    mirror.exec('BEGIN IMMEDIATE')
    try {
      const tip = mirror.prepare<unknown[], { height: number, hash: string }>('SELECT height, hash FROM _blocks ORDER BY height DESC LIMIT 1').get()
      const fits = rec.height === 0 ? tip === undefined : tip?.height === rec.height - 1 && tip.hash === rec.parent
      if (!fits) { mirror.exec('ROLLBACK'); return 'stale' }
      insertBlockRow(mirror, 'main', rec)
      mirror.prepare('INSERT INTO _mirror_skipped (height, hash, code, message) VALUES (?, ?, ?, ?)').run(why.height, why.hash, why.code, why.message)
      mirror.exec('COMMIT')
      return { skipped: why }
    } catch (err) {
      if (mirror.inTransaction) mirror.exec('ROLLBACK')
      throw err
    }
  } finally {
    mirror.close()
  }
}

function insertBlockRow (mirror: SqliteDb, m: string, rec: BlockRecord): void {
  const time = Date.parse(rec.timestamp)
  mirror.prepare(`INSERT INTO ${m}._blocks (height, hash, parent, signer, timestamp, time, size, rows_root) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(rec.height, rec.hash, rec.parent, rec.signer, rec.timestamp, Number.isFinite(time) ? time : null, rec.size, rec.rowsRoot)
}

/** Columns of a block table, cached by its CREATE TABLE text (they are a function of it). */
function ddlColumns (c: Copy, t: UserTable): ColumnInfo[] {
  const cached = c.mirror.prepare<unknown[], { columns: string }>(`SELECT columns FROM ${c.m}._mirror_ddl WHERE sql = ?`).get(t.sql)
  if (cached !== undefined) return parseColumns(cached.columns)
  const cols = probeColumns(c.block, 'main', t.name)
  c.mirror.prepare(`INSERT INTO ${c.m}._mirror_ddl (sql, columns) VALUES (?, ?)`).run(t.sql, JSON.stringify(cols))
  return cols
}

function copyTable (c: Copy, height: number, t: UserTable): void {
  const key = asciiLower(t.name)
  const cols = ddlColumns(c, t)
  const cur = getMirrorTable(c.mirror, c.m, key)
  const union = unionColumns(cur?.columns, cols)
  setMirrorTable(c.mirror, c.m, key, t.name, union)
  if (union.length > MAX_MIRROR_COLUMNS) return // left out of the mirror: too wide for one table
  // Canonical row order, as in the block's Merkle tree.
  copyRows(c, cols.map(x => q(x.name)), `main.${canonicalSource(t)} ORDER BY ${canonicalOrder(t)}`, `${c.m}.${q(cur?.name ?? t.name)}`, height)
}

/**
 * Append `columns` of the block's rows (`from`: table and order) to the mirror table `target`,
 * each row prefixed with `_height`. The columns keep their names in the mirror.
 */
function copyRows (c: Copy, columns: string[], from: string, target: string, height: number): void {
  const list = ['"_height"', ...columns].join(', ')
  const cols = columns.join(', ')
  if (c.block === c.mirror) {
    c.mirror.prepare(`INSERT INTO ${target} (${list}) SELECT ?${cols === '' ? '' : ', ' + cols} FROM ${from}`).run(height)
    return
  }
  const ins = c.mirror.prepare(`INSERT INTO ${target} (${list}) VALUES (${['?', ...columns.map(() => '?')].join(', ')})`)
  for (const row of c.block.prepare<unknown[], SqlValue[]>(`SELECT ${cols} FROM ${from}`).raw(true).safeIntegers(true).iterate()) ins.run(height, ...row)
}
