import { describe, expect, it, vi } from 'vitest'
import Database from 'better-sqlite3'
import { copyFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Chain, reindexChain, signImport } from '../../../src/chain/index.js'
import { sha256, sha256FileSync } from '../../../src/crypto/index.js'
import { signTipCheckpoints } from '../../../src/proof/index.js'
import { toHex } from '../../../src/util/index.js'
import { recover, recoverNow, refuseIndexBehindFiles, WalRewriteNeeded } from '../../../src/chain/recover.js'
import { readJournal, readTipRecord, sealPathOf, StorageError, writeJournal, type BlockRecord } from '../../../src/storage/index.js'
import { fixtureKey, makeSqlite, newTestChain, type TestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

// A group is placed with synchronous=NORMAL and chain.db-wal fsynced after the commit
// (index-db.ts, syncOffLoop). Another process's recovery (a reader opening the directory, or the
// next writer) that finds the group's journal with its commit visible must make that commit
// durable before it deletes the journal: after a power cut, the journal is what moves the files
// of a lost commit back. Not by an fsync of the -wal (after a failed one it proves nothing,
// fsyncgate) but by re-writing the log into chain.db (session 34).

/** A test chain with one block above its genesis, and that block's record. */
async function chainOfOneBlock (): Promise<{ t: TestChain, rec: BlockRecord }> {
  const alice = fixtureKey('alice')
  const t = await newTestChain({ key: alice })
  await signImport(t.chain, makeSqlite(join(tmpDir(), '1.db'), 3, 1), alice)
  return { t, rec: t.chain.tip() }
}

/**
 * chainOfOneBlock with its block's journal left behind (a group whose commit is in the index) and
 * a reader holding a snapshot of chain.db, which keeps a TRUNCATE checkpoint from emptying the
 * log; both closed after `fn`.
 */
async function withJournalAndReader (fn: (c: { t: TestChain, rec: BlockRecord, reader: Database.Database }) => Promise<void>): Promise<void> {
  const { t, rec } = await chainOfOneBlock()
  const reader = new Database(t.chain.dir.chainDb, { readonly: true })
  try {
    writeJournal(t.chain.dir, { commit: rec.hash, moves: [] })
    reader.exec('BEGIN')
    reader.prepare('SELECT count(*) FROM sqlite_schema').get()
    await fn({ t, rec, reader })
  } finally {
    reader.close()
    t.chain.close()
  }
}

describe('recovery of a journal whose commit is in the index', () => {
  it('re-writes chain.db-wal into chain.db while the journal is still there, then removes the journal', async () => {
    const { t, rec } = await chainOfOneBlock()
    try {
      // As a placement leaves it between its commit and its fsync: journal present, commit visible.
      writeJournal(t.chain.dir, { commit: rec.hash, moves: [{ from: join(t.chain.dir.root, 'tmp', 'x.db'), to: t.chain.dir.blockPath(rec.height) }] })
      expect(t.chain.index.walEmpty()).toBe(false)
      const journalAtRewrite: boolean[] = []
      const real = t.chain.index.rewriteWal.bind(t.chain.index)
      const rewrite = vi.spyOn(t.chain.index, 'rewriteWal').mockImplementation(() => { journalAtRewrite.push(existsSync(t.chain.dir.journal)); return real() })
      expect(recoverNow(t.chain)).toBe(true)
      rewrite.mockRestore()
      expect(journalAtRewrite).toEqual([true])
      expect(t.chain.index.walEmpty()).toBe(true)
      expect(existsSync(t.chain.dir.journal)).toBe(false)
      expect(t.chain.tip().hash).toBe(rec.hash)
      expect(existsSync(t.chain.dir.blockPath(rec.height))).toBe(true)
    } finally {
      t.chain.close()
    }
  })

  it('an opener whose re-write readers keep busy leaves the journal to the next writer: no busy wait, no fsync of the -wal', async () => {
    await withJournalAndReader(async ({ t, rec, reader }) => {
      const waits: unknown[] = []
      const real = t.chain.index.rewriteWal.bind(t.chain.index)
      const rewrite = vi.spyOn(t.chain.index, 'rewriteWal').mockImplementation((busyMs?: number) => { waits.push(busyMs); return real(busyMs) })
      expect(recoverNow(t.chain)).toBe(true)
      rewrite.mockRestore()
      // before: three tries of SQLite's 5 s busy wait on the opener's thread, then the -wal fsynced
      // and the journal removed
      expect(waits).toEqual([0])
      expect(existsSync(t.chain.dir.journal)).toBe(true)
      reader.exec('COMMIT')
      // The next writer re-writes the log, then removes the journal.
      await signImport(t.chain, makeSqlite(join(tmpDir(), '2.db'), 3, 2), fixtureKey('alice'))
      expect(existsSync(t.chain.dir.journal)).toBe(false)
      expect(t.chain.tip().height).toBe(rec.height + 1)
    })
  })

  it('a writer whose re-write a reader keeps busy waits on timers: the reader ends meanwhile, the log is re-written, no fsync of the -wal', async () => {
    await withJournalAndReader(async ({ t, rec, reader }) => {
      const waits: unknown[] = []
      const real = t.chain.index.rewriteWal.bind(t.chain.index)
      const rewrite = vi.spyOn(t.chain.index, 'rewriteWal').mockImplementation((busyMs?: number) => {
        // The reader ends from a timer set at the first try: only a writer that lets the event loop run sees it end.
        if (waits.push(busyMs) === 1) setTimeout(() => { if (reader.open) reader.exec('COMMIT') }, 20)
        return real(busyMs)
      })
      await signImport(t.chain, makeSqlite(join(tmpDir(), '2.db'), 3, 2), fixtureKey('alice'))
      rewrite.mockRestore()
      // before: SQLite's 5 s busy wait on the writer's thread, three times (the timer could not
      // run), then the -wal fsynced (fsyncgate: proves nothing after a failed one) and the journal removed
      expect(waits.every(w => w === 0)).toBe(true)
      expect(existsSync(t.chain.dir.journal)).toBe(false)
      expect(t.chain.tip().height).toBe(rec.height + 1)
    })
  }, 60_000)

  it('a writer whose re-write a reader outlasts is refused (INDEX_BUSY), the journal kept: no fsync of the -wal in its place; run again as the hint says once the reader ended, it goes through (failed on the old code: the fourth try fsynced the -wal, removed the journal and imported)', async () => {
    await withJournalAndReader(async ({ t, rec, reader }) => {
      // --wait 0.3: the re-write waits that long for the reader (three 5 s tries before).
      let err: unknown
      try {
        await signImport(t.chain, makeSqlite(join(tmpDir(), '2.db'), 3, 2), fixtureKey('alice'), { timeoutMs: 300 })
      } catch (e) { err = e }
      expect(err).toBeInstanceOf(StorageError)
      expect(err).toMatchObject({ code: 'INDEX_BUSY', message: expect.stringContaining('stayed in use by readers'), hint: expect.stringContaining('run the command again when the processes reading') })
      expect(existsSync(t.chain.dir.journal)).toBe(true)
      expect(t.chain.tip().height).toBe(rec.height)
      reader.exec('COMMIT')
      await signImport(t.chain, makeSqlite(join(tmpDir(), '3.db'), 3, 3), fixtureKey('alice'), { timeoutMs: 300 })
      expect(existsSync(t.chain.dir.journal)).toBe(false)
      expect(t.chain.tip().height).toBe(rec.height + 1)
    })
  }, 60_000)

  it('recover() alone, in the transaction, asks for the re-write rather than fsyncing the -wal', async () => {
    const { t, rec } = await chainOfOneBlock()
    try {
      writeJournal(t.chain.dir, { commit: rec.hash, moves: [] })
      expect(() => t.chain.index.tryWriteLockSync(() => { recover(t.chain) })).toThrow(WalRewriteNeeded)
      expect(existsSync(t.chain.dir.journal)).toBe(true)
    } finally {
      t.chain.close()
    }
  })
})

describe('recovery of a journal whose commit never happened', () => {
  it('undoes a move into forks/ that a crash stopped before forks/ was made: the block stays, the directory opens', async () => {
    const { t, rec } = await chainOfOneBlock()
    try {
      // As a reorg leaves it after its journal and before its first rename: the canonical block
      // bound for forks/, and a commit (the other branch's tip) not in the index.
      expect(existsSync(t.chain.dir.forksDir)).toBe(false)
      writeJournal(t.chain.dir, { commit: 'ab'.repeat(32), moves: [{ from: t.chain.dir.blockPath(rec.height), to: t.chain.dir.forkPath(rec.hash) }] })
      expect(t.chain.index.tryWriteLockSync(() => { recover(t.chain) })).toBe(true)
      expect(existsSync(t.chain.dir.journal)).toBe(false)
      expect(existsSync(t.chain.dir.blockPath(rec.height))).toBe(true)
      expect(t.chain.tip().hash).toBe(rec.hash)
    } finally {
      t.chain.close()
    }
  })
})

// An older chain.db (copied back from a backup) below block files that go on: recovery took the
// file at tip + 1 for an import cut short and removed it, committed, and `petal reindex` (which
// recovers first) then stopped at that gap, BLOCK_FILE_MISSING (review55b).
describe('recovery under an index older than the block files', () => {
  it('removes no file when files go on above tip + 1; removes a lone one at tip + 1 as before', async () => {
    const { t, rec } = await chainOfOneBlock()
    try {
      const d = t.chain.dir
      const place = (h: number): void => { copyFileSync(d.blockPath(rec.height), d.blockPath(h)); copyFileSync(sealPathOf(d.blockPath(rec.height)), sealPathOf(d.blockPath(h))) }
      place(2)
      place(3)
      expect(t.chain.index.tryWriteLockSync(() => { recover(t.chain) })).toBe(true)
      expect(existsSync(d.blockPath(2)) && existsSync(d.blockPath(3))).toBe(true)
      // One file above the tip and none further: an import cut short, removed.
      rmSync(d.blockPath(3))
      rmSync(sealPathOf(d.blockPath(3)))
      expect(t.chain.index.tryWriteLockSync(() => { recover(t.chain) })).toBe(true)
      expect(existsSync(d.blockPath(2))).toBe(false)
    } finally {
      t.chain.close()
    }
  })
})

/** A backup of chain.db as it was closed (with its log where one is left); the function returned puts it back, as an operator restoring it would. */
function backUpChainDb (chainDb: string, glob = false): () => void {
  const backup = join(tmpDir(), 'chain.db.backup')
  // glob: every file `cp chain.db* …` copies (session 56's tip record, chain.db-tip, among them).
  const parts = glob ? readdirSync(dirname(chainDb)).filter(n => n.startsWith('chain.db')).map(n => n.slice('chain.db'.length)) : ['', '-wal'].filter(s => existsSync(chainDb + s))
  for (const s of parts) copyFileSync(chainDb + s, backup + s)
  return () => {
    for (const s of ['-wal', '-shm']) rmSync(chainDb + s, { force: true })
    for (const s of parts) copyFileSync(backup + s, chainDb + s)
  }
}

// Exactly one block behind the files, an older chain.db looked like an import cut short, and its
// committed top block was removed (review55b's left). chain.db's tip record (written after each
// commit that moves the tip) names that block; an import cut short leaves it naming the tip.
describe('recovery under an index exactly one block behind the files', () => {
  it('keeps the block the tip record names (refusing writes until reindex, which keeps it); a file it does not name is removed as before', async () => {
    const { t, rec } = await chainOfOneBlock()
    const alice = fixtureKey('alice')
    t.chain.close()
    const putBack = backUpChainDb(t.chain.dir.chainDb)
    let c = Chain.open(t.dir)
    try {
      await signImport(c, makeSqlite(join(tmpDir(), '2.db'), 3, 2), alice)
      const two = c.tip()
      expect(readTipRecord(c.dir.chainDb)).toEqual({ height: two.height, hash: two.hash })
      c.close()
      putBack()
      c = Chain.open(t.dir)
      expect(c.tip().hash).toBe(rec.hash)
      expect(existsSync(c.dir.blockPath(two.height))).toBe(true)
      // A write that moves no tip (a node's tip checkpoint at its start, a checkpoint received)
      // leaves the record: it wrote the older index's tip over it, the seal's recovery then removed
      // the committed block 2 and sealed another block 2, a fork of the node's own (review57).
      await signTipCheckpoints(c, alice)
      expect(readTipRecord(c.dir.chainDb)).toEqual({ height: two.height, hash: two.hash })
      const err = await signImport(c, makeSqlite(join(tmpDir(), '3.db'), 3, 3), alice).catch((e: unknown) => e)
      // No file goes on above block 2: the message said they did (review57).
      expect(err).toMatchObject({ code: 'INDEX_CORRUPT', message: expect.stringContaining('the file of block 2 is the block index-tip.json records as committed'), hint: expect.stringContaining('reindex') })
      expect((err as Error).message).not.toContain('go on above')
      expect(sha256FileSync(c.dir.blockPath(two.height))).toBe(two.hash)
      c.close()
      expect(await reindexChain(t.dir)).toMatchObject({ tipHeight: two.height, tipHash: two.hash })
      c = Chain.open(t.dir)
      // An import cut short: a file at tip + 1 the record does not name (the tip's copy) is removed.
      copyFileSync(c.dir.blockPath(1), c.dir.blockPath(3))
      copyFileSync(sealPathOf(c.dir.blockPath(1)), sealPathOf(c.dir.blockPath(3)))
      expect(c.index.tryWriteLockSync(() => { recover(c) })).toBe(true)
      expect(existsSync(c.dir.blockPath(3))).toBe(false)
    } finally {
      c.close()
    }
  })

  // Until session 57 the record was chain.db-tip: a backup by `cp chain.db* …` copied it, and put
  // back it named the backup's own tip, so the committed block 2 was removed as an import cut short.
  it('keeps it after a backup by `cp chain.db*` is put back: the record is named outside chain.db*', async () => {
    const { t } = await chainOfOneBlock()
    t.chain.close()
    writeFileSync(`${t.chain.dir.chainDb}-tip`, '{"height":1,"hash":"' + '0'.repeat(64) + '"}\n') // session 56's record, as an older Petal left it
    const putBack = backUpChainDb(t.chain.dir.chainDb, true)
    let c = Chain.open(t.dir)
    try {
      await signImport(c, makeSqlite(join(tmpDir(), '2.db'), 3, 2), fixtureKey('alice'))
      const two = c.tip()
      expect(existsSync(`${c.dir.chainDb}-tip`), 'the older name is removed at the first write').toBe(false)
      c.close()
      putBack()
      c = Chain.open(t.dir)
      expect(existsSync(c.dir.blockPath(two.height)) && sha256FileSync(c.dir.blockPath(two.height))).toBe(two.hash)
    } finally {
      c.close()
    }
  })

  // Session 56 wrote the record as chain.db-tip: a directory it left with an older chain.db put back
  // (the record naming block 2) lost block 2 at this Petal's first open, which read only the new name.
  it('keeps it by session 56\'s record, chain.db-tip, when index-tip.json is absent', async () => {
    const { t } = await chainOfOneBlock()
    t.chain.close()
    const putBack = backUpChainDb(t.chain.dir.chainDb)
    let c = Chain.open(t.dir)
    try {
      await signImport(c, makeSqlite(join(tmpDir(), '2.db'), 3, 2), fixtureKey('alice'))
      const two = c.tip()
      c.close()
      renameSync(join(t.dir, 'index-tip.json'), `${c.dir.chainDb}-tip`)
      putBack()
      c = Chain.open(t.dir)
      expect(existsSync(c.dir.blockPath(two.height)) && sha256FileSync(c.dir.blockPath(two.height))).toBe(two.hash)
    } finally {
      c.close()
    }
  })
})

// Left so (above), the file at tip + 1 is a committed block: a seal or an import placed its new
// block there, replacing it, and the files above then stood on a block that is not their parent
// (review56: run on a 4-block chain with block 1's chain.db, `signImport` sealed a block 2 over the
// committed one and left block 3). A write that places a block is refused until reindex.
describe('a write under an index older than the block files', () => {
  it('is refused, INDEX_CORRUPT with the reindex hint, and replaces no file; after that reindex it goes on', async () => {
    const { t, rec } = await chainOfOneBlock()
    const alice = fixtureKey('alice')
    t.chain.close()
    const putBack = backUpChainDb(t.chain.dir.chainDb)
    let c = Chain.open(t.dir)
    try {
      for (const n of [2, 3]) await signImport(c, makeSqlite(join(tmpDir(), `${n}.db`), 3, n), alice)
      const files = [2, 3].map(h => readFileSync(c.dir.blockPath(h)))
      c.close()
      putBack()
      // And a group's journal left by a kill after its commit (block 3 placed from tmp/, on tip 2):
      // the opener's recovery, by this older index, moved block 3 back to tmp/ and removed it.
      const d = t.chain.dir
      writeJournal(d, { commit: toHex(sha256(files[1] as Buffer)), moves: [{ from: join(d.tmpDir, 'group-3.db'), to: d.blockPath(3) }] })
      c = Chain.open(t.dir)
      expect(c.tip().hash).toBe(rec.hash)
      expect(existsSync(d.blockPath(3)) && readJournal(d) !== undefined).toBe(true)
      const refused = async (what: string): Promise<void> => {
        const err = await signImport(c, makeSqlite(join(tmpDir(), '4.db'), 3, 4), alice).catch((e: unknown) => e)
        expect(err).toMatchObject({ code: 'INDEX_CORRUPT', message: expect.stringContaining(what), hint: expect.stringContaining('reindex') })
        expect([2, 3].map(h => readFileSync(c.dir.blockPath(h)))).toEqual(files)
      }
      await refused('older than an interrupted change')
      // Without the journal: the files above tip + 1 alone refuse it.
      c.close()
      renameSync(d.journal, `${d.journal}.aside`)
      c = Chain.open(t.dir)
      await refused('older than the block files')
      c.close()
      renameSync(`${d.journal}.aside`, d.journal)
      expect(await reindexChain(t.dir)).toMatchObject({ tipHeight: 3 })
      c = Chain.open(t.dir)
      await signImport(c, makeSqlite(join(tmpDir(), '4.db'), 3, 4), alice)
      expect(c.tip().height).toBe(4)
    } finally {
      c.close()
    }
  })

  // The sync's check before its download runs outside the write lock (797a8807): a group in flight
  // on this index (this node's own, another process's), or one cut short that recovery rolls back,
  // left its journal and files above tip + 1, and was refused as an older index, with the hint to
  // reindex (review57).
  it('is not said of a group this index can judge, in flight or cut short', async () => {
    const { t, rec } = await chainOfOneBlock()
    const d = t.chain.dir
    try {
      for (const h of [2, 3]) for (const f of [d.blockPath(h), sealPathOf(d.blockPath(h))]) copyFileSync(h === 2 ? d.blockPath(1) : sealPathOf(d.blockPath(1)), f)
      const commit = rec.hash.replace(/^./, x => x === '0' ? '1' : '0')
      writeJournal(d, { commit, moves: [2, 3].map(h => ({ from: join(d.tmpDir, `g${h}.db`), to: d.blockPath(h) })) })
      expect(() => { refuseIndexBehindFiles(t.chain) }).not.toThrow()
      // As a writer finds it: rolled back by its recovery, then nothing to refuse.
      expect(t.chain.index.tryWriteLockSync(() => { recover(t.chain); refuseIndexBehindFiles(t.chain) })).toBe(true)
      expect([existsSync(d.blockPath(2)), existsSync(d.blockPath(3)), readJournal(d)]).toEqual([false, false, undefined])
    } finally {
      t.chain.close()
    }
  })
})
