// The addon's keepFreed (src/crypto/native/malloc-keep.c), which a process running a node calls
// once (network/libp2p.ts, through keepFreedMemory): glibc's malloc then keeps the memory of freed
// 1 MiB buffers for the next ones, where its own thresholds handed the heap's free top back to the
// kernel and the next buffers faulted their pages in again (docs/performance/pull.md, "Session 41: the
// 1 MB pull"). Measured in child processes (the policy is process-wide): rounds of eight 1 MiB
// buffers, each filled, then dropped and collected, as a block transfer's read pools and messages
// are. Minor faults are counted, not times.
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { keepFreedMemory } from '../../../src/crypto/index.js'
import { entryOf, loaderFor } from '../../helpers/src-entry.js'
import { loadNativeOpenssl, nativeOpensslPath } from '../../../src/crypto/openssl-native.js'
import { nativeOpensslBuilt } from '../../helpers/native-build.js'

const ROUNDS = 40
const COUNTED = 20

const CHILD = `
const m = { exports: {} }
process.dlopen(m, process.argv[1])
if (process.argv[2] === 'keep' && m.exports.keepFreed(4 << 20, 16 << 20) !== true) throw new Error('keepFreed did not set the thresholds')
const faults = () => process.resourceUsage().minorPageFault
let counted = 0
for (let r = 0; r < ${ROUNDS}; r++) {
  const f0 = faults()
  let bufs = []
  for (let i = 0; i < 8; i++) { const b = Buffer.allocUnsafeSlow(1 << 20); b.fill(r); bufs.push(b) }
  bufs = null
  globalThis.gc()
  if (r >= ${ROUNDS - COUNTED}) counted += faults() - f0
}
process.stdout.write(String(counted / ${COUNTED}))
`

/** Minor faults a round (of the last COUNTED) in a child process, with or without keepFreed. */
function faultsPerRound (keep: boolean): number {
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', CHILD, nativeOpensslPath(), keep ? 'keep' : 'plain'], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`)
  return Number(r.stdout)
}

const isGlibc = (): boolean => (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined

describe.skipIf(!nativeOpensslBuilt())('keepFreed', () => {
  it.skipIf(!isGlibc())('freed 1 MiB buffers are reused without faulting their pages in again', () => {
    // 8 MiB a round is 2,048 pages; with keepFreed a round faulted 0-77 (what V8 itself touches).
    // Without it the count depends on when V8's sweeper frees the buffers (0-175 a round on this
    // VM under load), so the plain case is only run, not bounded: a contrast that flaked.
    expect(faultsPerRound(true)).toBeLessThan(256)
    expect(faultsPerRound(false)).toBeGreaterThanOrEqual(0)
  })

  it('refuses thresholds glibc would not take, or that make no sense', () => {
    const keepFreed = loadNativeOpenssl().lib?.keepFreed
    if (keepFreed === undefined) throw new Error('the addon has no keepFreed')
    for (const [mmapAt, trimAt] of [[1024, 4096], [64 << 20, 128 << 20], [4 << 20, 1 << 20], [-1, 1 << 20]]) {
      expect(() => keepFreed(mmapAt as number, trimAt as number), `${mmapAt}, ${trimAt}`).toThrow(RangeError)
    }
  })

  it.skipIf(!isGlibc())('keepFreedMemory sets glibc\'s thresholds once a process, through the loaded addon', () => {
    expect(keepFreedMemory()).toBe(true)
    expect(keepFreedMemory()).toBe(true)
  })
  it.skipIf(!isGlibc())('resetNativeOpenssl lets keepFreedMemory decide again after the addon was off (PETAL_NATIVE_SHA256=0)', () => {
    // In a process of its own: the thresholds, once set, are the process's for good, and an earlier
    // file in this one may have set them. Before the fix the second call answered false: a node
    // made with the addon off left keepFreed undone for every later test file in the fork.
    const entry = entryOf(join(import.meta.dirname, '../../../src/crypto/openssl-native.ts'))
    const module = JSON.stringify(pathToFileURL(entry).href)
    const code = `const m = await import(${module})
process.env.PETAL_NATIVE_SHA256 = '0'
const off = m.keepFreedMemory()
delete process.env.PETAL_NATIVE_SHA256
m.resetNativeOpenssl()
process.stdout.write(JSON.stringify([off, m.keepFreedMemory(), m.freedMemoryKept()]))`
    const r = spawnSync(process.execPath, [...loaderFor(entry), '--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, PETAL_NATIVE_SHA256: undefined } })
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual([false, true, true])
  })

  // hugeHeap (docs/performance/pull.md, "Session 55: the heap on 2 MiB pages (pipe55)"): the heap's
  // top and what it grows into are marked for 2 MiB pages (madvise MADV_HUGEPAGE), so a transfer's
  // 1 MiB buffers fault in 2 MiB at a time rather than 4 KiB. 96 MiB of buffers outgrow the 64 MiB
  // pad, and hugeHeap(0), as a transfer's buffers call it, marks the growth too. Read from
  // /proc/self/smaps: the heap's mappings carrying the kernel's `hg` flag (whether the kernel then
  // finds free huge pages is the machine's: not asserted).
  it.skipIf(!isGlibc() || !thpAdvisable())('hugeHeap marks the heap\'s top, and what it grows into, for 2 MiB pages', () => {
    const code = `const m = { exports: {} }
process.dlopen(m, process.argv[1])
const { readFileSync } = require('node:fs')
if (m.exports.keepFreed(4 << 20, 16 << 20) !== true) throw new Error('keepFreed did not set the thresholds')
const first = m.exports.hugeHeap(64 << 20)
const keep = []
let grown = 0
for (let i = 0; i < 96; i++) { const b = Buffer.allocUnsafeSlow(1 << 20); b.fill(i); keep.push(b); grown += Math.max(0, m.exports.hugeHeap(0)) }
let marked = 0
let heap = 0
for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
  const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line)
  if (range !== null) heap = line.endsWith('[heap]') ? parseInt(range[2], 16) - parseInt(range[1], 16) : 0
  else if (heap > 0 && line.startsWith('VmFlags:') && line.split(' ').includes('hg')) marked += heap
}
process.stdout.write(JSON.stringify({ first, grown, marked }))`
    const r = spawnSync(process.execPath, ['-e', code, nativeOpensslPath()], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const got = JSON.parse(r.stdout) as { first: number, grown: number, marked: number }
    expect(got.first).toBeGreaterThanOrEqual(32 << 20) // the pad grown and marked at once
    expect(got.grown).toBeGreaterThan(0) // 96 MiB outgrew the 64 MiB pad: the growth marked too
    expect(got.marked).toBeGreaterThanOrEqual(96 << 20) // every buffer's pages in a marked mapping
  })

  it('hugeHeap refuses a pad beyond 256 MiB', () => {
    const hugeHeap = loadNativeOpenssl().lib?.hugeHeap
    if (hugeHeap === undefined) throw new Error('the addon has no hugeHeap')
    for (const pad of [512 << 20, -1]) expect(() => hugeHeap(pad), String(pad)).toThrow(RangeError)
  })
})

/** Whether this kernel gives madvised regions transparent huge pages ("always" or "madvise", not "never" or none). */
function thpAdvisable (): boolean {
  try { return !readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8').includes('[never]') } catch { return false }
}
