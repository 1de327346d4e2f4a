import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { PendingStore } from '../../../src/ingest/store.js'
import { asRoot, otherUserCanRun, runAsOtherUserWith } from '../../helpers/other-user.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'

const cleanup: Array<() => void> = []
afterEach(() => { for (const f of cleanup.splice(0).reverse()) f() })

// Every open of pending.db for writing writes (its meta rows) and so waits for its write lock, 5 s
// at most. Another process that held the lock longer (a node's large append, `petal seal`) made
// the open fail as a damaged store, hinting "restore it from a backup": a user who did so lost the
// rows acknowledged since that backup, over a store that was only busy (review50).
it('a pending.db whose write lock another connection holds past the busy wait is said busy, not damaged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'petal-store-busy-'))
  cleanup.push(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'pending.db')
  PendingStore.open(path).close()
  const holder = new Database(path)
  holder.exec('BEGIN IMMEDIATE')
  cleanup.push(() => { holder.exec('ROLLBACK'); holder.close() })
  let err: { code?: string, message?: string, hint?: string } | undefined
  try {
    PendingStore.open(path).close()
  } catch (e) {
    err = e as typeof err
  }
  expect(err?.code).toBe('INGEST_STORE_UNAVAILABLE')
  expect(err?.message).toContain('another process')
  expect(err?.hint).not.toContain('backup')
  expect(err?.hint).toContain('run the command again')
}, 30_000)

// A pending.db another user's command left (a `sudo petal append`: root's, 0644) in a data directory
// this user may write: INGEST_STORE_UNAVAILABLE said "writing records needs write access to the
// data directory", which it had, naming no file (review56). Now PERMISSION_DENIED naming it, with
// the command that gives it back; run, the open succeeds.
it.skipIf(!otherUserCanRun)('a pending.db this user may not write is PERMISSION_DENIED naming it, whose command lets it open', () => {
  const dir = mkdtempSync(join(tmpdir(), 'petal-store-denied-'))
  cleanup.push(() => { rmSync(dir, { recursive: true, force: true }) })
  chmodSync(dir, 0o777)
  const path = join(dir, 'pending.db')
  PendingStore.open(path).close()
  // Closed, its log is checkpointed: pending.db alone, as the other user's command left it.
  for (const f of ['-wal', '-shm']) rmSync(path + f, { force: true })
  if (asRoot) chownSync(path, 0, 0)
  chmodSync(path, asRoot ? 0o644 : 0o444)
  const store = srcEntry('ingest', 'store.ts')
  const open = (): { code?: string, message?: string, hint?: string, opened?: true } => JSON.parse(runAsOtherUserWith(loaderFor(store), `const { PendingStore } = await import(${JSON.stringify(store)})
try { PendingStore.open(process.argv[1]).close(); console.log(JSON.stringify({ opened: true })) } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })) }`, path).stdout) as ReturnType<typeof open>
  const e = open()
  expect(e).toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringContaining(`may not write the pending store ${path}`) })
  // The hint's command, run as it says (as root, for another user's file).
  const command = /`((?:chown|chmod) [^`]*)`/.exec(e.hint ?? '')?.[1]
  expect(command, e.hint).toBeDefined()
  expect(spawnSync('sh', ['-c', command as string]).status).toBe(0)
  expect(open()).toEqual({ opened: true })
}, 30_000)

// A `sudo petal append` leaves pending.db's log and shared memory root's too (a CLI leaves its
// connections to the process's exit). Once the hint's chown of pending.db ran, the open said
// IO_ERROR, "the disk refused to open pending.db for writing, … free space", which was false: its
// log was root's (review57). Each file is named in turn, with its command, until the open succeeds.
it.skipIf(!otherUserCanRun || !asRoot)('a pending.db whose log and shared memory are another user\'s too: each named, never the disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'petal-store-denied-'))
  cleanup.push(() => { rmSync(dir, { recursive: true, force: true }) })
  chmodSync(dir, 0o777)
  const path = join(dir, 'pending.db')
  const held = PendingStore.open(path) // open, as the command left it: its -wal and -shm stay, root's
  cleanup.push(() => { held.close() })
  const store = srcEntry('ingest', 'store.ts')
  const open = (): { code?: string, message?: string, hint?: string, opened?: true } => JSON.parse(runAsOtherUserWith(loaderFor(store), `const { PendingStore } = await import(${JSON.stringify(store)})
try { PendingStore.open(process.argv[1]).close(); console.log(JSON.stringify({ opened: true })) } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })) }`, path).stdout) as ReturnType<typeof open>
  const named: string[] = []
  for (let e = open(); e.opened !== true; e = open()) {
    expect(e, 'one round a file').toMatchObject({ code: 'PERMISSION_DENIED' })
    const command = /`(chown [^`]*)`/.exec(e.hint ?? '')?.[1]
    expect(command, e.hint).toBeDefined()
    named.push(command as string)
    expect(named.length).toBeLessThanOrEqual(3)
    expect(spawnSync('sh', ['-c', command as string]).status).toBe(0)
  }
  expect(named.length).toBeGreaterThan(1)
}, 30_000)
