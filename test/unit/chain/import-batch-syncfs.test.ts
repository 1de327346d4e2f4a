import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { chmodSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, importBatch, loadBlock, signImport, verifyChain, type LoadedBlock } from '../../../src/chain/index.js'
import { readSeal, setSyncfsMode, stopSyncfsHelper, useNativeSyncfs } from '../../../src/storage/index.js'
import { filesMatchIndex, fixtureKey, makeSqlite, newTestChain } from '../../helpers/chain.js'
import { cloneGenesis } from '../../helpers/network.js'
import { tmpDir } from '../../helpers/tmp.js'

// A group placed with one syncfs instead of the files' fsyncs (src/storage/group-flush.ts): the
// same blocks, files and index; a syncfs that reports a failed flush fails the group with nothing
// renamed, as a failed fsync does.

const alice = fixtureKey('alice')
const saved = { PATH: process.env.PATH }
const onLinux = process.platform === 'linux' && existsSync('/usr/bin/sync')
let source: Chain
let genesis: { params: Chain['params'], genesisFile: string }

beforeAll(async () => {
  const t = await newTestChain({ key: alice })
  const work = tmpDir()
  for (let h = 1; h <= 6; h++) await signImport(t.chain, makeSqlite(join(work, `${h}.db`), 3, h), alice)
  source = t.chain
  genesis = { params: t.chain.params, genesisFile: join(t.dir, '0000', 'block_00000000.db') }
  return () => { source.close() }
}, 60_000)

afterEach(async () => {
  useNativeSyncfs(true)
  process.env.PATH = saved.PATH
  setSyncfsMode(undefined)
  await stopSyncfsHelper(true)
})

/** PATH with `sh` and a `sync` made of `body` first. */
function withSync (body: string): string {
  const bin = tmpDir()
  symlinkSync('/bin/sh', join(bin, 'sh'))
  writeFileSync(join(bin, 'sync'), `#!/bin/sh\n${body}\n`)
  chmodSync(join(bin, 'sync'), 0o755)
  return `${bin}:${saved.PATH ?? ''}`
}

async function loadAll (into: Chain, heights: number[]): Promise<LoadedBlock[]> {
  return await Promise.all(heights.map(async h => await loadBlock(into, source.dir.blockPath(h), readSeal(source.dir.blockPath(h)))))
}

describe.runIf(onLinux)('importBatch with syncfs (PETAL_SYNCFS=1)', () => {
  it('places the group after one syncfs: files, seals and index as the source has them', async () => {
    await stopSyncfsHelper(true)
    // The helper's way, whose log names the directory (the addon's: syncfs-native.test.ts).
    useNativeSyncfs(false)
    const log = join(tmpDir(), 'calls')
    process.env.PATH = withSync(`echo "$@" >> ${log}\nexec /usr/bin/sync "$@"`)
    setSyncfsMode('1')
    const c = Chain.open(await cloneGenesis(genesis))
    const r = await importBatch(c, await loadAll(c, [1, 2, 3, 4, 5, 6]))
    expect(r.failure).toBeUndefined()
    expect(readFileSync(log, 'utf8')).toBe(`-f -- ${c.dir.tmpDir}\n`)
    expect(c.tip().hash).toBe(source.tip().hash)
    expect(await filesMatchIndex(c)).toEqual([])
    expect((await verifyChain(c, { workers: 1 })).ok).toBe(true)
    expect(readdirSync(c.dir.tmpDir)).toEqual([])
    c.close()
  })

  it('a syncfs that reports an I/O error fails the group: nothing renamed, no journal, tmp/ emptied, the import works afterwards', async () => {
    await stopSyncfsHelper(true)
    // A fake `sync` reports the failure: the helper's way (the addon's is syncfs-native.test.ts's).
    useNativeSyncfs(false)
    process.env.PATH = withSync('echo "sync: error syncing \'$3\': Input/output error" >&2; exit 1')
    setSyncfsMode('1')
    const c = Chain.open(await cloneGenesis(genesis))
    const r = await importBatch(c, await loadAll(c, [1, 2, 3, 4]))
    expect(r.results).toEqual([])
    expect(r.failure).toMatchObject({ index: 0, error: { code: 'IO_ERROR' } })
    expect(c.tip().height).toBe(0)
    for (let h = 1; h <= 4; h++) expect(existsSync(c.dir.blockPath(h)), `no file at height ${h}`).toBe(false)
    expect(existsSync(c.dir.journal)).toBe(false)
    expect(readdirSync(c.dir.tmpDir)).toEqual([])
    await stopSyncfsHelper(true)
    process.env.PATH = saved.PATH
    const again = await importBatch(c, await loadAll(c, [1, 2, 3, 4]))
    expect(again.failure).toBeUndefined()
    expect(c.tip().height).toBe(4)
    expect(await filesMatchIndex(c)).toEqual([])
    c.close()
  })
})
