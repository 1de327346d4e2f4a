import { afterEach, describe, expect, it } from 'vitest'
import { existsSync, readFileSync, statSync } from 'node:fs'
import type { PendingStore } from '../../../src/ingest/store.js'
import { nativeWalIndexBuilt } from '../../helpers/native-build.js'
import { openPendingIn, put, readAfter } from '../../helpers/pending-wal.js'
import { loseLastFrame } from '../../helpers/wal-db.js'
import { holdOpenElsewhere } from '../../helpers/db-holder.js'

/**
 * SQLite's own checkpoints (the automatic one once the log holds 1,000 frames, the last
 * connection's at close) copied whatever the wal-index names, a frame whose write the disk lost
 * included, into pending.db and chain.db (wal38's left). Now the wal-index extension turns both
 * off and Petal's checkpoints read the log as recovery would first (wal-checkpoint.ts). The lost
 * frame here is the last commit's, overwritten behind SQLite as a lost writeback leaves it.
 */

const stores: PendingStore[] = []
afterEach(() => { for (const s of stores.splice(0)) s.close() })

const open = (): { store: PendingStore, path: string } => openPendingIn(stores)

describe.runIf(nativeWalIndexBuilt())('checkpoints of pending.db and chain.db go through the -wal check', () => {
  it('a log that reads as written is copied once it holds 1,000 frames, as SQLite\'s automatic checkpoint did', async () => {
    const { store, path } = open()
    const before = statSync(path).size
    await put(store, 'big', 'y'.repeat(5_000_000))
    expect(statSync(path).size).toBeGreaterThan(before + 4_000_000)
    // The next write restarts the log (its checkpoint sequence number, in its header, goes up).
    const seq = (): number => readFileSync(`${path}-wal`).readUInt32BE(12)
    const was = seq()
    await put(store, 'after', '1')
    expect(seq()).toBe(was + 1)
    expect(readAfter(path).keys).toEqual(['after', 'big'])
  })

  it('a lost frame: the automatic checkpoint copies nothing, the close none either, and the next open drops the commits from it on (failed on the old code: SQLite copied the lost page, quick_check failed)', async () => {
    const { store, path } = open()
    await put(store, 'x', 'before')
    loseLastFrame(path)
    const size = statSync(path).size
    // Another process has it open: its writer may yet re-write the log, so nothing drops it here
    // (alone, the checkpoint's committer drops it: wal-orphan.test.ts).
    const release = await holdOpenElsewhere(path)
    try {
      // 5 MB: over 1,000 frames, the threshold of SQLite's automatic checkpoint.
      await put(store, 'big', 'y'.repeat(5_000_000))
      expect(statSync(path).size).toBe(size)
      store.close()
      stores.length = 0
    } finally {
      await release()
    }
    // Left as a crash leaves it: the next opener's recovery reads the log from the disk.
    expect(existsSync(`${path}-wal`)).toBe(true)
    expect(statSync(path).size).toBe(size)
    expect(readAfter(path)).toEqual({ check: 'ok', keys: [] })
  })

  it('the close copies no lost frame of a small log (failed on the old code: the last connection\'s checkpoint copied it)', async () => {
    const { store, path } = open()
    await put(store, 'x', 'before')
    loseLastFrame(path)
    store.close()
    stores.length = 0
    expect(readAfter(path)).toEqual({ check: 'ok', keys: [] })
  })

  it('a close copies and empties a log over 1 MiB that reads as written', async () => {
    const { store, path } = open()
    // Below the automatic threshold, above the close's.
    await put(store, 'big', 'y'.repeat(2_000_000))
    const size = statSync(path).size
    store.close()
    stores.length = 0
    expect(statSync(path).size).toBeGreaterThan(size + 1_500_000)
    expect(statSync(`${path}-wal`).size).toBe(0)
    expect(readAfter(path)).toEqual({ check: 'ok', keys: ['big'] })
  })
})
