import { afterAll, describe, expect, it } from 'vitest'
import { cpSync, existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Chain } from '../../src/chain/index.js'
import { IndexDb } from '../../src/storage/index.js'
import { MAX_GROUP } from '../../src/sync/window-limits.js'
import { extendChain, fixtureKey, newTestChain } from '../helpers/chain.js'
import { petal, spawnNode, type RunningNode } from '../helpers/node-process.js'
import { cloneGenesis } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

const alice = fixtureKey('alice')
const nodes: RunningNode[] = []
afterAll(async () => { await Promise.all(nodes.map(async n => await n.stop())) })

async function run (dir: string, args: string[] = []): Promise<RunningNode> {
  const n = await spawnNode(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off', ...args])
  nodes.push(n)
  return n
}

/** Read a data directory's index from outside the node (read-only, safe while it runs). */
function peek (dir: string): { height: number, hash: string, side: number } {
  const idx = IndexDb.open(join(dir, 'chain.db'), { readonly: true })
  try {
    const tip = idx.tip()
    return { height: tip?.height ?? -1, hash: tip?.hash ?? '', side: idx.countBlocks().side }
  } finally {
    idx.close()
  }
}

/** A running node S on a chain of `blocks` blocks, and T, a data directory holding only its genesis. */
async function sourceAhead (blocks = 40): Promise<{ tDir: string, s: RunningNode, want: { height: number, hash: string } }> {
  const { chain, dir: sDir } = await newTestChain({ key: alice })
  await extendChain(chain, alice, blocks, 1)
  chain.close()
  const tDir = await cloneGenesis(chain)
  return { tDir, s: await run(sDir), want: peek(sDir) }
}

/**
 * The catch-up cases' sources, built once for the file: S on a chain of MAX_GROUP + 20 blocks and
 * S' on the same chain grown by 20 more (a copy made before S starts). Each case syncs a fresh T
 * (its own genesis-only directory) from one of them; no case writes to a source, and building the
 * ~300 signed blocks per case was most of the file's time.
 */
const catchUpSources = new Map<number, Promise<{ tDir: () => Promise<string>, s: RunningNode, want: { height: number, hash: string } }>>()
let catchUpChains: Promise<{ genesis: { params: Chain['params'], genesisFile: string }, dirs: Map<number, string> }> | undefined
async function catchUpSource (blocks: number): Promise<{ tDir: string, s: RunningNode, want: { height: number, hash: string } }> {
  catchUpChains ??= (async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, MAX_GROUP + 20, 1)
    const genesis = { params: chain.params, genesisFile: chain.dir.blockPath(0) }
    chain.close()
    const longer = join(tmpDir(), 'longer')
    cpSync(dir, longer, { recursive: true })
    const c = Chain.open(longer)
    await extendChain(c, alice, 20, 1)
    c.close()
    return { genesis, dirs: new Map([[MAX_GROUP + 20, dir], [MAX_GROUP + 40, longer]]) }
  })()
  let source = catchUpSources.get(blocks)
  if (source === undefined) {
    source = (async () => {
      const { genesis, dirs } = await catchUpChains
      const sDir = dirs.get(blocks)
      if (sDir === undefined) throw new Error(`no catch-up source of ${blocks} blocks`)
      return { tDir: async () => await cloneGenesis(genesis), s: await run(sDir), want: peek(sDir) }
    })()
    catchUpSources.set(blocks, source)
  }
  const { tDir, s, want } = await source
  return { tDir: await tDir(), s, want }
}

async function expectVerifies (dir: string): Promise<void> {
  const v = await petal(['--dir', dir, 'verify', '--workers', '1'])
  expect(v.code, v.stderr + v.stdout).toBe(0)
}

/**
 * After a killed catch-up (recovery rolled any journaled group back): no journal is left, a node
 * restarted on the directory catches up with S to `want`, verify passes, every height is placed
 * once, and tmp/ is emptied.
 */
async function restartCatchesUp (tDir: string, source: string, want: { height: number, hash: string }): Promise<void> {
  expect(existsSync(join(tDir, 'journal.json'))).toBe(false)
  const t2 = await run(tDir, ['--bootstrap', source])
  await waitFor(() => peek(tDir).hash === want.hash, { timeout: 60_000, interval: 100, what: 'the restarted node to catch up' })
  expect(await t2.stop()).toBe(0)
  nodes.splice(nodes.indexOf(t2), 1)
  await expectVerifies(tDir)
  const c = Chain.open(tDir)
  expect(c.index.range(0, c.tip().height).map(b => b.height)).toEqual(Array.from({ length: want.height + 1 }, (_, i) => i))
  c.close()
  expect(readdirSync(join(tDir, 'tmp')), 'tmp/ emptied by the restarted node').toEqual([])
}

describe('kill -9 of a node', () => {
  it('during sync: it restarts, verify passes, it catches up', async () => {
    const { tDir, s, want } = await sourceAhead()

    // T is held mid-sync at a known instant: the checks of block 20 wait at a pausepoint, so the
    // import stops at 19 while the blocks above are downloaded and checked; then it is killed.
    const pause = join(tmpDir(), 'pause')
    const t = await spawnNode(['--dir', tDir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off', '--bootstrap', s.addr], { PETAL_PAUSE: 'sync:check@20', PETAL_PAUSE_FILE: pause })
    nodes.push(t)
    await waitFor(() => existsSync(pause), { timeout: 60_000, what: 'the sync to reach block 20' })
    await waitFor(() => peek(tDir).height === 19, { timeout: 60_000, what: 'the blocks below 20 to be placed' })
    await t.kill9()
    nodes.splice(nodes.indexOf(t), 1)
    expect(peek(tDir).height).toBe(19)

    await expectVerifies(tDir)
    const t2 = await run(tDir, ['--bootstrap', s.addr])
    await waitFor(() => peek(tDir).hash === want.hash, { timeout: 60_000, interval: 100, what: 'the restarted node to catch up' })
    expect(await t2.stop()).toBe(0)
    nodes.splice(nodes.indexOf(t2), 1)
    await expectVerifies(tDir)
  }, 180_000)

  // A catch-up places its blocks in groups, each journaled while its files are flushed. T dies
  // in the second group's placement: when its journal is durable (its files may not be yet), or
  // after its renames. After the restart the first group is kept, the second rolled back, the
  // index and the files agree, and the catch-up completes with no block placed twice.
  // PETAL_SYNCFS=1: each group's files flushed by one syncfs (batch:synced#2 is only passed on
  // that path, so the test fails if it is not taken).
  const cases = [{ fp: 'batch:journaled#2', syncfs: '0' }, { fp: 'batch:moved#2', syncfs: '0' }, { fp: 'batch:synced#2', syncfs: '1' }, { fp: 'batch:moved#2', syncfs: '1' }]
  for (const { fp, syncfs } of cases) {
    it(`during a catch-up, killed at ${fp}${syncfs === '1' ? ' (one syncfs per group)' : ''}: it restarts, verify passes, it catches up`, async () => {
      // More blocks than a group takes (MAX_GROUP): there is a second group however quickly the
      // checks go (the placement waits briefly for a larger group, GroupGate).
      const { tDir, s, want } = await catchUpSource(MAX_GROUP + 20)
      const t = await spawnNode(['--dir', tDir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off', '--bootstrap', s.addr], { PETAL_FAILPOINT: fp, PETAL_SYNCFS: syncfs })
      nodes.push(t)
      expect(await t.ended, t.stderr()).toBe('SIGKILL')
      nodes.splice(nodes.indexOf(t), 1)
      // At batch:synced the journal, written beside the flush, may be there or not yet.
      if (fp !== 'batch:synced#2') expect(existsSync(join(tDir, 'journal.json')), 'the second group was journaled').toBe(true)
      const before = peek(tDir).height
      expect(before, 'the first group stays placed').toBeGreaterThan(0)
      expect(before).toBeLessThan(want.height)

      // verify opens the directory (recovery rolls the journaled group back) and checks every file.
      await expectVerifies(tDir)
      expect(peek(tDir).height).toBe(before)
      await restartCatchesUp(tDir, s.addr, want)
    }, 180_000)
  }

  // A load thread writes a small block's `.sig` beside its file in tmp/ (unflushed) once its
  // checks pass, ahead of the group that places it. T dies right after one such write (a load
  // thread's 10th: each thread counts its own, and 296 blocks reach it with up to 29 threads):
  // the `.sig` is left in tmp/ beside its block, private to a dead process. The threads come up in
  // the background at the first load, and until then blocks are checked on the main thread, which
  // writes no `.sig` (LoadPool): PETAL_PAUSE=load:warm holds T's loads until a thread is up, so the
  // threads check the catch-up's blocks however soon it would end without them (ranges of 128 ended
  // these 296 blocks before the threads were up: docs/performance/catchup.md, "Session 51: blocks/2.0.0 reverted (lead)").
  it('during a catch-up, killed as a load thread writes a block\'s .sig (load:sealed#10): it restarts, verify passes, it catches up, tmp/ is emptied', async () => {
    const { tDir, s, want } = await catchUpSource(MAX_GROUP + 40)
    const t = await spawnNode(['--dir', tDir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off', '--bootstrap', s.addr], { PETAL_FAILPOINT: 'load:sealed#10', PETAL_PAUSE: 'load:warm', PETAL_SYNCFS: '1' })
    nodes.push(t)
    expect(await t.ended, t.stderr()).toBe('SIGKILL')
    nodes.splice(nodes.indexOf(t), 1)
    expect(readdirSync(join(tDir, 'tmp')).filter(n => n.endsWith('.sig')).length, 'a load thread wrote a .sig before the kill').toBeGreaterThan(0)
    const before = peek(tDir).height
    expect(before).toBeLessThan(want.height)

    await expectVerifies(tDir)
    expect(peek(tDir).height).toBeLessThanOrEqual(before)
    await restartCatchesUp(tDir, s.addr, want)
  }, 180_000)

  it('during a reorg (killed between moving files and committing): it restarts, verify passes, it ends on the longer branch', async () => {
    const { chain, dir: sDir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 5, 1)
    chain.close()
    // T forks off at height 5 with 10 blocks of its own; S's branch is 20 blocks long.
    const tDir = join(tmpDir(), 't')
    cpSync(sDir, tDir, { recursive: true })
    const sc = Chain.open(sDir)
    await extendChain(sc, alice, 20, 2)
    sc.close()
    const tc = Chain.open(tDir)
    await extendChain(tc, alice, 10, 3)
    tc.close()
    const want = peek(sDir)

    const s = await run(sDir)
    // The failpoint kills T with SIGKILL inside the reorganisation: journal written, the first
    // block file moved, the index not yet committed.
    const t = await spawnNode(['--dir', tDir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off', '--bootstrap', s.addr], { PETAL_FAILPOINT: 'journal:first-move' })
    nodes.push(t)
    expect(await t.ended, t.stderr()).toBe('SIGKILL')
    nodes.splice(nodes.indexOf(t), 1)
    expect(existsSync(join(tDir, 'journal.json')), 'a reorganisation was under way').toBe(true)

    await expectVerifies(tDir)
    const t2 = await run(tDir, ['--bootstrap', s.addr])
    await waitFor(() => peek(tDir).hash === want.hash, { timeout: 60_000, interval: 100, what: 'the restarted node to reorganise onto the longer branch' })
    expect(await t2.stop()).toBe(0)
    nodes.splice(nodes.indexOf(t2), 1)
    await expectVerifies(tDir)
    expect(peek(tDir).side).toBeGreaterThanOrEqual(10)
  }, 180_000)
})
