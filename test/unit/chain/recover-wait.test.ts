import { describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { signImport } from '../../../src/chain/index.js'
import { writeJournal } from '../../../src/storage/index.js'
import { fixtureKey, makeSqlite, newTestChain, type TestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

/**
 * A writer that must re-write chain.db-wal first (a group's journal whose commit is not known to be
 * on disk: recover.test.ts) waits for this process's other writers too. Until session 40 that wait
 * (the write lock's in-process mutex, in rewriteWalExclusive and before every write) ignored the
 * caller's signal and --wait: a writer queued behind a long one of its own process (a node's
 * reindex, a catch-up) waited for it whatever it was told. Now both end the wait with a coded
 * error, the journal kept. Each case settles while the other writer still holds the lock: on the
 * old code none did (each waitFor timed out).
 */

/** A chain with one block whose journal is left, and a writer of this process holding the lock until `release`. */
async function heldChain (): Promise<{ t: TestChain, release: () => Promise<void> }> {
  const alice = fixtureKey('alice')
  const t = await newTestChain({ key: alice })
  await signImport(t.chain, makeSqlite(join(tmpDir(), '1.db'), 3, 1), alice)
  writeJournal(t.chain.dir, { commit: t.chain.tip().hash, moves: [] })
  let open!: () => void
  const gate = new Promise<void>(resolve => { open = resolve })
  let holding = false
  const held = t.chain.index.withWriteLock(async () => { holding = true; await gate })
  await waitFor(() => holding, { what: 'the other writer' })
  return { t, release: async () => { open(); await held } }
}

/** `p`'s outcome once settled, waited for while the other writer still holds the lock. */
async function settled (p: Promise<unknown>): Promise<unknown> {
  let out: { v: unknown } | undefined
  p.then(v => { out = { v } }, (e: unknown) => { out = { v: e } })
  await waitFor(() => out !== undefined, { what: 'the waiting writer to give up', timeout: 15_000 })
  return out?.v
}

describe('a writer queued behind another of its own process honours its signal and --wait', () => {
  it('rewriteWalExclusive: --wait ends it (false: not re-written), the abort ends it (ABORTED)', async () => {
    const { t, release } = await heldChain()
    try {
      expect(await settled(t.chain.index.rewriteWalExclusive(200))).toBe(false)
      const ac = new AbortController()
      const waiting = settled(t.chain.index.rewriteWalExclusive(60_000, ac.signal))
      ac.abort()
      expect(await waiting).toMatchObject({ code: 'ABORTED' })
      expect(existsSync(t.chain.dir.journal)).toBe(true)
    } finally {
      await release()
      t.chain.close()
    }
  }, 60_000)

  it('an import with --wait 0.3 is refused (LOCK_TIMEOUT), one aborted is ABORTED; nothing written, the journal kept; once the other writer is done it goes through', async () => {
    const { t, release } = await heldChain()
    const height = t.chain.tip().height
    try {
      expect(await settled(signImport(t.chain, makeSqlite(join(tmpDir(), '2.db'), 3, 2), fixtureKey('alice'), { timeoutMs: 300 }))).toMatchObject({ code: 'LOCK_TIMEOUT', hint: expect.stringContaining('--wait') })
      const ac = new AbortController()
      const waiting = settled(signImport(t.chain, makeSqlite(join(tmpDir(), '3.db'), 3, 3), fixtureKey('alice'), { signal: ac.signal }))
      ac.abort()
      expect(await waiting).toMatchObject({ code: 'ABORTED' })
      expect(existsSync(t.chain.dir.journal)).toBe(true)
      expect(t.chain.tip().height).toBe(height)
      await release()
      await signImport(t.chain, makeSqlite(join(tmpDir(), '4.db'), 3, 4), fixtureKey('alice'), { timeoutMs: 5000 })
      expect(existsSync(t.chain.dir.journal)).toBe(false)
      expect(t.chain.tip().height).toBe(height + 1)
    } finally {
      await release()
      t.chain.close()
    }
  }, 60_000)
})
