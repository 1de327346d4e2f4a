// A lock file on a file system mounted read-only: SQLite opens it read-only, and BEGIN EXCLUSIVE
// then takes a shared lock only, as for a file this user may not write (review53): two holders
// each "won" it at once (locks54's audit). Refused to a holder now; a look still works.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { NodeLock } from '../../../src/storage/index.js'
import { withTokensLock } from '../../../src/api/index.js'
import { openPendingDb } from '../../../src/ingest/store-open.js'
import { tmpDir } from '../../helpers/tmp.js'
import { openForQuery } from '../../../src/query/sandbox/connection.js'

/** A tmpfs mounted at a new directory (root, with the right to mount), else undefined: the caller unmounts it. */
function tmpfs (): string | undefined {
  if (process.getuid?.() !== 0) return undefined
  const dir = tmpDir()
  return spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'none', dir]).status === 0 ? dir : undefined
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
})
