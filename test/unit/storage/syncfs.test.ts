import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { prepareGroup, setSyncfsMode, stopSyncfsHelper, syncFileSystem, syncfsWanted, useNativeSyncfs, SYNCFS_MIN_BLOCKS, StorageError } from '../../../src/storage/index.js'
import { liveChildPids } from '../../../src/util/child-processes.js'
import { tmpDir } from '../../helpers/tmp.js'

// The group flush's syncfs (src/storage/syncfs.ts): a long-lived shell runs `sync -f`. Fake
// `sync` programs on PATH stand for a machine without it, an old or foreign `sync`, and a disk
// whose flush fails.

const saved = { PATH: process.env.PATH }
const realSync = '/usr/bin/sync'
const onLinux = process.platform === 'linux' && existsSync(realSync)

/** A directory to put first on PATH holding `sh` and a `sync` made of `body` (a shell script). */
function fakeBin (body: string | undefined): string {
  const bin = tmpDir()
  symlinkSync('/bin/sh', join(bin, 'sh'))
  if (body !== undefined) {
    writeFileSync(join(bin, 'sync'), `#!/bin/sh\n${body}\n`)
    chmodSync(join(bin, 'sync'), 0o755)
  }
  return bin
}

/** `n` block files in `dir`'s tmp-like directory, as the receive leaves them (not flushed, no `.sig`). */
function blocks (dir: string, n: number): Array<{ file: string, seal: string }> {
  return Array.from({ length: n }, (_, i) => {
    const file = join(dir, `${process.pid}-${i}.db`)
    writeFileSync(file, Buffer.alloc(4096, i))
    return { file, seal: `seal${i}` }
  })
}

// The helper's conversation: the addon's syncfs (syncfs-native.test.ts) would take its place.
beforeEach(async () => { useNativeSyncfs(false); await stopSyncfsHelper(true) })
afterEach(async () => {
  useNativeSyncfs(true)
  process.env.PATH = saved.PATH
  setSyncfsMode(undefined)
  await stopSyncfsHelper(true)
})

describe.runIf(onLinux)('syncFileSystem', () => {
  it('runs `sync -f` on the directory in one long-lived helper, registered with the child processes', async () => {
    const log = join(tmpDir(), 'calls')
    process.env.PATH = `${fakeBin(`echo "$@" >> ${log}\nexec ${realSync} "$@"`)}:${saved.PATH ?? ''}`
    const dir = tmpDir()
    const before = liveChildPids().length
    expect(await syncFileSystem(dir)).toBe(true)
    expect(liveChildPids().length).toBe(before + 1)
    expect(await syncFileSystem(dir)).toBe(true)
    expect(liveChildPids().length).toBe(before + 1)
    expect(readFileSync(log, 'utf8')).toBe(`-f -- ${dir}\n-f -- ${dir}\n`)
  })

  it('is unavailable, and stays so, when `sync` is missing (the shell: not found)', async () => {
    process.env.PATH = fakeBin(undefined)
    expect(await syncFileSystem(tmpDir())).toBe(false)
    process.env.PATH = saved.PATH
    expect(await syncFileSystem(tmpDir())).toBe(false)
    expect(syncfsWanted(tmpDir(), 1000)).toBe(false)
  })

  it('is unavailable when the helper cannot start (no shell: ENOENT)', async () => {
    process.env.PATH = tmpDir()
    expect(await syncFileSystem(tmpDir())).toBe(false)
    expect(syncfsWanted(tmpDir(), 1000)).toBe(false)
  })

  it('is unavailable when `sync` refuses -f or fails in a way it does not know (non-zero exit)', async () => {
    process.env.PATH = fakeBin('echo "sync: invalid option -- \'f\'" >&2; exit 1')
    expect(await syncFileSystem(tmpDir())).toBe(false)
    expect(syncfsWanted(tmpDir(), 1000)).toBe(false)
  })

  it('throws a coded StorageError when syncfs reports a failed flush, and stays available', async () => {
    process.env.PATH = fakeBin('echo "sync: error syncing \'$3\': Input/output error" >&2; exit 1')
    const err = await syncFileSystem(tmpDir()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StorageError)
    expect((err as StorageError).code).toBe('IO_ERROR')
    expect(syncfsWanted(tmpDir(), 1000)).toBe(true)
    await stopSyncfsHelper(true)
    process.env.PATH = fakeBin('echo "sync: error syncing \'$3\': No space left on device" >&2; exit 1')
    expect(((await syncFileSystem(tmpDir()).catch((e: unknown) => e)) as StorageError).code).toBe('DISK_FULL')
  })
})

describe.runIf(onLinux)('prepareGroup', () => {
  it(`uses one syncfs for a group of ${SYNCFS_MIN_BLOCKS} blocks or more, the fsyncs below; every .sig is written either way`, async (ctx) => {
    // Automatic only on ext4, XFS or btrfs: elsewhere (a tmpfs /tmp) this part cannot run.
    setSyncfsMode(undefined)
    if (!syncfsWanted(tmpDir(), SYNCFS_MIN_BLOCKS)) ctx.skip()
    const log = join(tmpDir(), 'calls')
    process.env.PATH = `${fakeBin(`echo "$@" >> ${log}\nexec ${realSync} "$@"`)}:${saved.PATH ?? ''}`
    setSyncfsMode(undefined)
    const dir = tmpDir()
    const small = blocks(dir, SYNCFS_MIN_BLOCKS - 1)
    await prepareGroup(small)
    expect(existsSync(log), 'no syncfs for a small group').toBe(false)
    const big = blocks(tmpDir(), SYNCFS_MIN_BLOCKS)
    // Blocks a load thread flushed already do not count.
    await prepareGroup([...big.slice(1), { ...big[0] as { file: string, seal: string }, prepared: true }])
    expect(existsSync(log), 'no syncfs: one block of the group was prepared').toBe(false)
    await prepareGroup(big)
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(1)
    for (const b of [...small, ...big]) expect(readFileSync(b.file.replace(/\.db$/, '.sig'), 'utf8')).toBe(`${b.seal}\n`)
    // Mode '1' (PETAL_SYNCFS=1): any group; '0': none.
    setSyncfsMode('1')
    await prepareGroup(blocks(tmpDir(), 1))
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(2)
    setSyncfsMode('0')
    await prepareGroup(blocks(tmpDir(), SYNCFS_MIN_BLOCKS * 2))
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(2)
  })

  it('leaves a .sig its load thread wrote (sealWritten) to the syncfs, and writes it again when the files are fsynced one by one', async () => {
    const log = join(tmpDir(), 'calls')
    process.env.PATH = `${fakeBin(`echo "$@" >> ${log}\nexec ${realSync} "$@"`)}:${saved.PATH ?? ''}`
    setSyncfsMode('1')
    // The text a load thread left is what the group flushes: not written again (a marker shows it).
    const group = blocks(tmpDir(), 3).map((b, i) => ({ ...b, sealWritten: i === 0 }))
    const first = group[0] as { file: string, seal: string }
    writeFileSync(first.file.replace(/\.db$/, '.sig'), 'as the load thread wrote it\n')
    await prepareGroup(group)
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(1)
    expect(readFileSync(first.file.replace(/\.db$/, '.sig'), 'utf8')).toBe('as the load thread wrote it\n')
    for (const b of group.slice(1)) expect(readFileSync(b.file.replace(/\.db$/, '.sig'), 'utf8')).toBe(`${b.seal}\n`)
    // Without syncfs each .sig is opened, written and fsynced: the same bytes again, flushed.
    setSyncfsMode('0')
    const again = blocks(tmpDir(), 2).map(b => ({ ...b, sealWritten: true }))
    for (const b of again) writeFileSync(b.file.replace(/\.db$/, '.sig'), 'stale\n')
    await prepareGroup(again)
    for (const b of again) expect(readFileSync(b.file.replace(/\.db$/, '.sig'), 'utf8')).toBe(`${b.seal}\n`)
  })

  it('falls back to the fsyncs when syncfs is unavailable', async () => {
    process.env.PATH = fakeBin('exit 1')
    setSyncfsMode('1')
    const group = blocks(tmpDir(), 3)
    await prepareGroup(group)
    for (const b of group) expect(readFileSync(b.file.replace(/\.db$/, '.sig'), 'utf8')).toBe(`${b.seal}\n`)
    expect(syncfsWanted(tmpDir(), 1000)).toBe(false)
  })

  it('rejects with the coded error when the syncfs reports a failed flush', async () => {
    process.env.PATH = fakeBin('echo "sync: error syncing \'$3\': Input/output error" >&2; exit 1')
    setSyncfsMode('1')
    await expect(prepareGroup(blocks(tmpDir(), 3))).rejects.toMatchObject({ code: 'IO_ERROR' })
  })
})
