import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { prepareGroup, setSyncfsMode, stopSyncfsHelper, syncFileSystem, syncfsWanted, useNativeSyncfs } from '../../../src/storage/index.js'
import { liveChildPids } from '../../../src/util/child-processes.js'
import { tmpDir } from '../../helpers/tmp.js'

// The syncfs helper's conversation (src/storage/syncfs.ts) under trouble: requests in flight
// together answered in order (two groups at once), output split across pipe reads and output
// that is not sync's, and a helper killed in the middle of a request (a second Ctrl-C, the OOM
// killer): the request falls back to the fsyncs at once (no hang), the dead helper leaves the
// child-process registry, and later requests do not try syncfs again. Fake `sync` programs on PATH.

const saved = { PATH: process.env.PATH }
const onLinux = process.platform === 'linux' && existsSync('/usr/bin/sync')

/** PATH with `sh` and a `sync` made of `body` first (`$3` is the directory: `sync -f -- DIR`). */
function withSync (body: string): string {
  const bin = tmpDir()
  symlinkSync('/bin/sh', join(bin, 'sh'))
  writeFileSync(join(bin, 'sync'), `#!/bin/sh\n${body}\n`)
  chmodSync(join(bin, 'sync'), 0o755)
  return `${bin}:${saved.PATH ?? ''}`
}

async function until (what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + 10_000
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await delay(10)
  }
}

/** `p`, or a failure after `ms` (a request never answered would otherwise hang the test). */
async function within<T> (ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`no answer within ${ms} ms`)) }, ms) })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

// The helper's conversation: the addon's syncfs (syncfs-native.test.ts) would take its place.
beforeEach(async () => { useNativeSyncfs(false); await stopSyncfsHelper(true) })
afterEach(async () => {
  useNativeSyncfs(true)
  process.env.PATH = saved.PATH
  setSyncfsMode(undefined)
  await stopSyncfsHelper(true)
})

describe.runIf(onLinux)('the syncfs helper under trouble', () => {
  it('answers requests in flight together in order: a slow failed one, good ones, a failed one (two groups at once)', async () => {
    process.env.PATH = withSync([
      'case "$3" in',
      '  *slowbad) sleep 0.3; echo "sync: error syncing \'$3\': Input/output error" >&2; exit 1 ;;',
      '  *bad) echo "sync: error syncing \'$3\': No space left on device" >&2; exit 1 ;;',
      '  *) exit 0 ;;',
      'esac'
    ].join('\n'))
    const slowBad = join(tmpDir(), 'slowbad')
    const bad = join(tmpDir(), 'bad')
    const good = [tmpDir(), tmpDir()]
    const results = await Promise.allSettled([syncFileSystem(slowBad), syncFileSystem(good[0] as string), syncFileSystem(bad), syncFileSystem(good[1] as string)])
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'IO_ERROR' } })
    expect(String((results[0] as PromiseRejectedResult).reason)).toContain(slowBad)
    expect(results[1]).toEqual({ status: 'fulfilled', value: true })
    expect(results[2]).toMatchObject({ status: 'rejected', reason: { code: 'DISK_FULL' } })
    expect(String((results[2] as PromiseRejectedResult).reason)).toContain(bad)
    expect(results[3]).toEqual({ status: 'fulfilled', value: true })
    expect(syncfsWanted(good[0] as string, 1000)).toBe(true)
  })

  it('reads its answer across pipe reads and ignores what is not sync\'s error line', async () => {
    // 200 kB of output before the status: many reads of the pipe; a line that looks like a failure but exit status 0.
    process.env.PATH = withSync('head -c 200000 /dev/zero | tr "\\0" x; echo; echo "sync: error syncing \'x\': Input/output error"; exit 0')
    expect(await syncFileSystem(tmpDir())).toBe(true)
    expect(await syncFileSystem(tmpDir())).toBe(true)
    await stopSyncfsHelper(true)
    // Garbage and a failure it does not know: unavailable (the fsyncs will tell), never a false success.
    process.env.PATH = withSync('echo "@petal-synced 0"; echo garbage >&2; exit 3')
    expect(await syncFileSystem(tmpDir())).toBe(false)
    expect(syncfsWanted(tmpDir(), 1000)).toBe(false)
  })

  it('a `sync` that ends its output without a newline, or reads stdin, is still answered (no hang) and the next request too', async () => {
    // The answer's mark must start a line of its own, and `sync` must not eat the requests that follow.
    process.env.PATH = withSync('printf "sync: a last line without its newline"; exit 0')
    expect(await within(5_000, syncFileSystem(tmpDir()))).toBe(true)
    expect(await within(5_000, syncFileSystem(tmpDir()))).toBe(true)
    await stopSyncfsHelper(true)
    process.env.PATH = withSync('read -r line; exit 0')
    const [a, b] = await within(5_000, Promise.all([syncFileSystem(tmpDir()), syncFileSystem(tmpDir())]))
    expect([a, b]).toEqual([true, true])
  })

  it('a helper killed in the middle of a request: the group falls back to the fsyncs at once, the dead helper leaves the registry, later groups skip syncfs', async () => {
    const started = join(tmpDir(), 'started')
    process.env.PATH = withSync(`echo $$ > ${started}; exec sleep 30`)
    setSyncfsMode('1')
    const before = new Set(liveChildPids())
    const dir = tmpDir()
    const group = [0, 1, 2].map(i => {
      const file = join(dir, `${process.pid}-${i}.db`)
      writeFileSync(file, Buffer.alloc(4096, i))
      return { file, seal: `seal${i}` }
    })
    const placed = prepareGroup(group)
    await until('the fake sync to start', () => existsSync(started) && readFileSync(started, 'utf8').trim() !== '')
    const helper = liveChildPids().filter(p => !before.has(p))
    expect(helper).toHaveLength(1)
    const t0 = Date.now()
    process.kill(helper[0] as number, 'SIGKILL')
    await placed
    // Not the 30 s of the sleeping `sync`: the helper's exit ended the request.
    expect(Date.now() - t0).toBeLessThan(5_000)
    for (const b of group) expect(readFileSync(b.file.replace(/\.db$/, '.sig'), 'utf8')).toBe(`${b.seal}\n`)
    expect(liveChildPids()).not.toContain(helper[0])
    expect(syncfsWanted(dir, 1000)).toBe(false)
    expect(await syncFileSystem(dir)).toBe(false)
    expect(liveChildPids().filter(p => !before.has(p))).toEqual([])
    // The orphaned `sleep` (the fake sync) is ours to clean up.
    process.kill(Number(readFileSync(started, 'utf8')), 'SIGKILL')
  })
})
