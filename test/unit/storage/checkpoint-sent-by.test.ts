import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it, vi } from 'vitest'
import { IndexDb } from '../../../src/storage/index.js'
import { tmpDir } from '../../helpers/tmp.js'

// What each peer's checkpoints covered (CheckpointTable.sentBy, session 53: PROOF_NO_CHECKPOINT's
// hint) is a row of chain.db's meta a peer id. A peer id costs nothing, and any peer can send the
// public notes of the chain, so every identity a peer took added a row for good (review53b): the
// table now remembers the 256 peers whose checkpoints rose last.
describe('the peers whose checkpoints chain.db remembers', () => {
  it('are at most 256, the latest to send a larger tree; a peer sending a larger one is remembered anew', async () => {
    const path = join(tmpDir(), 'chain.db')
    const index = IndexDb.open(path)
    try {
      await index.withWriteLock(async () => {
        index.checkpoints.sentBy('peer OLD', 5)
        for (let i = 0; i < 299; i++) index.checkpoints.sentBy(`peer P${i}`, 10 + i)
      })
      expect(index.checkpoints.sentUpTo('peer P298')).toBe(307)
      expect(index.checkpoints.sentUpTo('peer P43')).toBe(52)
      expect(index.checkpoints.sentUpTo('peer P42')).toBeUndefined()
      expect(index.checkpoints.sentUpTo('peer OLD')).toBeUndefined()
      // A smaller or equal tree changes nothing; a larger one makes the peer the latest.
      await index.withWriteLock(async () => {
        index.checkpoints.sentBy('peer P43', 52)
        index.checkpoints.sentBy('peer P43', 400)
        index.checkpoints.sentBy('peer NEW', 3)
      })
      expect(index.checkpoints.sentUpTo('peer P43')).toBe(399)
      expect(index.checkpoints.sentUpTo('peer P44')).toBeUndefined()
      expect(index.checkpoints.sentUpTo('peer NEW')).toBe(2)
    } finally {
      index.close()
    }
    const db = new Database(path, { readonly: true })
    expect(db.prepare("SELECT count(*) AS n FROM meta WHERE key GLOB 'checkpoints_sent_by *'").get()).toEqual({ n: 256 })
    db.close()
  })
})

// keepReceivedCheckpoint asks, for every note a peer sends, whether that peer sent a larger tree
// than before: e8767e8 answered with sentUpTo, which also reads `MAX(size) FROM checkpoints WHERE
// source = ?`, a scan of every stored note (no index on source; a row a block) at each gossiped note,
// and again under the write lock (review53b). Only the hint needs the rows (a directory written earlier).
describe('remembering what a peer sent', () => {
  it('reads chain.db\'s meta only, never a scan of the notes by their source', async () => {
    const index = IndexDb.open(join(tmpDir(), 'chain.db'))
    const prepare = vi.spyOn(Database.prototype, 'prepare')
    try {
      await index.withWriteLock(async () => {
        index.checkpoints.sentBy('peer A', 5)
        index.checkpoints.sentBy('peer A', 9)
        index.checkpoints.sentBy('peer A', 7)
      })
      expect(prepare.mock.calls.map(c => String(c[0])).filter(sql => /FROM checkpoints WHERE source/.test(sql))).toEqual([])
      expect(index.checkpoints.sentNoted('peer A')).toBe(8)
      // The hint's answer counts the rows too.
      expect(index.checkpoints.sentUpTo('peer A')).toBe(8)
    } finally {
      prepare.mockRestore()
      index.close()
    }
  })
})
