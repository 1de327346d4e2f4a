import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PULL_HEAP_GROWING_PERCENT, withPullHeap } from '../../../src/node/pull-heap.js'
import { HeapGrowth } from '../../../src/util/index.js'
import { entryOf, loaderFor } from '../../helpers/src-entry.js'

// A pull's sync runs with V8's old generation allowed to grow to 4× its live size between full
// collections (docs/performance/pull.md, "Session 15: the 1 MB pull"); V8 chooses again afterwards.
describe('withPullHeap', () => {
  it('raises the growing factor for the sync only, and hands back its result', async () => {
    const set: string[] = []
    const seen: string[] = []
    const r = await withPullHeap(async () => { seen.push(...set); return 42 }, new HeapGrowth(f => { set.push(f) }, []))
    expect(r).toBe(42)
    expect(PULL_HEAP_GROWING_PERCENT).toBe(300)
    expect(seen).toEqual(['--heap-growing-percent=300'])
    expect(set).toEqual(['--heap-growing-percent=300', '--heap-growing-percent=0'])
  })

  it('gives the choice back to V8 when the sync fails', async () => {
    const set: string[] = []
    await expect(withPullHeap(async () => { throw new Error('peer gone') }, new HeapGrowth(f => { set.push(f) }, []))).rejects.toThrow('peer gone')
    expect(set).toEqual(['--heap-growing-percent=300', '--heap-growing-percent=0'])
  })

  it("leaves a process's own --heap-growing-percent alone", async () => {
    const set: string[] = []
    expect(await withPullHeap(async () => 'ok', new HeapGrowth(f => { set.push(f) }, ['--heap-growing-percent=50']))).toBe('ok')
    expect(set).toEqual([])
  })

  it('sets the real flag without complaint', async () => {
    expect(await withPullHeap(async () => 'synced')).toBe('synced')
  })
})

// The process's own value, however node was given it on its command line, is left alone.
describe('withPullHeap in a process started with flags', () => {
  const flagsSet = (...nodeFlags: string[]): string[] => {
    // One bundle of both modules (test/helpers/pull-heap-entry.ts): the HeapGrowth given is the class pull-heap.ts knows.
    const entry = entryOf(join(import.meta.dirname, '..', '..', 'helpers', 'pull-heap-entry.ts'))
    const code = `const { withPullHeap, HeapGrowth } = await import(${JSON.stringify(entry)})
      const set = []
      await withPullHeap(async () => {}, new HeapGrowth(f => { set.push(f) }))
      console.log(JSON.stringify(set))`
    const r = spawnSync(process.execPath, [...nodeFlags, ...loaderFor(entry), '--input-type=module', '-e', code], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    return JSON.parse(r.stdout) as string[]
  }

  it('keeps --heap-growing-percent and --heap_growing_percent given to node; sets and gives back its own otherwise', () => {
    expect(flagsSet('--heap-growing-percent=50')).toEqual([])
    expect(flagsSet('--heap_growing_percent=50')).toEqual([])
    expect(flagsSet('--max-old-space-size=512')).toEqual(['--heap-growing-percent=300', '--heap-growing-percent=0'])
  })
})
