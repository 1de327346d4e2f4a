// A lock file on a file system mounted read-only: SQLite opens it read-only, and BEGIN EXCLUSIVE
// then takes a shared lock only, as for a file this user may not write (review53): two holders
// each "won" it at once (locks54's audit). Refused to a holder now; a look still works.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { NodeLock } from '../../../src/storage/index.js'
import { Chain, reindexChain } from '../../../src/chain/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'
import { withTokensLock } from '../../../src/api/index.js'
import { openPendingDb } from '../../../src/ingest/store-open.js'
import { tmpDir } from '../../helpers/tmp.js'
import { openForQuery } from '../../../src/query/sandbox/connection.js'

/** A tmpfs mounted at a new directory (root, with the right to mount), else undefined: the caller unmounts it. */
function tmpfs (size = '1m'): string | undefined {
  if (process.getuid?.() !== 0) return undefined
  const dir = tmpDir()
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'none', dir]).status === 0 ? dir : undefined
}

const probe = tmpfs()
if (probe !== undefined) spawnSync('umount', [probe])

describe.skipIf(probe === undefined)('a lock file on a read-only file system', () => {
  it('is refused to a holder (PERMISSION_DENIED, read-only file system), never held twice; a look sees no holder', () => {
    const dir = tmpfs()
    if (dir === undefined) throw new Error('could not mount a tmpfs')
    try {
      writeFileSync(join(dir, 'x.lock'), '')
      expect(spawnSync('mount', ['-o', 'remount,ro', dir]).status).toBe(0)
      let err: { code?: string, message?: string, hint?: string } = {}
      let won: NodeLock | undefined
      try { won = NodeLock.tryAcquire(dir, 'x.lock') } catch (e) { err = e as typeof err }
      won?.release()
      // Before: won (a shared lock), and a second process won it as well.
      expect(won).toBeUndefined()
      expect(err.code).toBe('PERMISSION_DENIED')
      expect(err.message).toContain(`cannot hold the lock ${join(dir, 'x.lock')}: the file system is read-only`)
      expect(err.hint).toMatch(/^commands that only read \(status, blocks, block, signers, verify, query\) work there/)
      expect(NodeLock.isHeld(dir, 'x.lock')).toBe(false)
    } finally {
      spawnSync('umount', [dir])
    }
  })

  // node:fs's recursive mkdir says ENOENT for EROFS: `petal tokens create` there was an internal
  // error ("a bug in Petal") where every other writer says the file system is read-only (review55).
  it('a tokens edit (api/ not made yet) and the pending store\'s open there say the file system is read-only', async () => {
    const dir = tmpfs()
    if (dir === undefined) throw new Error('could not mount a tmpfs')
    try {
      expect(spawnSync('mount', ['-o', 'remount,ro', dir]).status).toBe(0)
      const err = await withTokensLock(dir, () => 1).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'PERMISSION_DENIED', details: { systemCode: 'EROFS' } })
      expect((err as { hint: string }).hint).toMatch(/^commands that only read \(status, blocks, block, signers, verify, query\) work there/)
      // And the pending store (append, seal, run): it said "run as a user who can write there", which no user can.
      let open: unknown
      try { openPendingDb(join(dir, 'pending.db'), false).close() } catch (e) { open = e }
      expect(open).toMatchObject({ code: 'PERMISSION_DENIED', details: { systemCode: 'EROFS' } })
      expect((open as { hint: string }).hint).toMatch(/^commands that only read/)
      // A query without a mirror made there: its hint said to run `petal query` (what failed) or
      // `reindex --query` (which cannot write it); --per-block reads the blocks (review55b).
      let mirror: unknown
      try { openForQuery(join(dir, 'query.db'), 'the query mirror').close() } catch (e) { mirror = e }
      expect(mirror).toMatchObject({ code: 'MIRROR_UNAVAILABLE' })
      expect((mirror as { hint: string }).hint).toContain(`\`petal --dir ${dir} query --per-block SQL\` reads the blocks themselves`)
    } finally {
      spawnSync('umount', [dir])
    }
  })

  // chain.db's writers (reindex first) said SQLITE_READONLY's "run as a user who may write the data
  // directory", without a path, which no user can there (session 55's left). And a connection opened
  // while chain.db could not be written stays read-only after the fix (a chown under a running
  // node; here the file system made writable again): its seals were refused, said as the disk's
  // refusal, until a restart, and nothing said one was needed (session 55's left).
  it('chain.db\'s writers say the file system is read-only, naming chain.db; a connection opened then says to restart once it can be written', async () => {
    const dir = tmpfs('8m')
    if (dir === undefined) throw new Error('could not mount a tmpfs')
    const alice = fixtureKey('alice')
    try {
      const { chain } = await newTestChain({ key: alice, dir: join(dir, 'data') })
      await extendChain(chain, alice, 1, 2)
      chain.close()
      expect(spawnSync('mount', ['-o', 'remount,ro', dir]).status).toBe(0)
      const err = await reindexChain(join(dir, 'data')).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'PERMISSION_DENIED', details: { systemCode: 'EROFS', path: join(dir, 'data', 'chain.db') } })
      expect((err as Error).message).toContain('the file system is read-only')
      expect((err as { hint: string }).hint).toMatch(/^commands that only read/)
      const stale = Chain.open(join(dir, 'data'))
      try {
        expect(spawnSync('mount', ['-o', 'remount,rw', dir]).status).toBe(0)
        const refused = await extendChain(stale, alice, 1, 2).catch((e: unknown) => e)
        expect(refused).toMatchObject({ code: 'PERMISSION_DENIED', details: { reopen: true } })
        expect((refused as { hint: string }).hint).toContain('restart the process')
      } finally {
        stale.close()
      }
      // The hint's way: a new connection writes.
      const fresh = Chain.open(join(dir, 'data'))
      try {
        await extendChain(fresh, alice, 1, 2)
        expect(fresh.tip().height).toBe(2)
      } finally {
        fresh.close()
      }
    } finally {
      spawnSync('umount', [dir])
    }
  })
})
