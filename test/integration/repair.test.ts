import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { constants, copyFileSync, cpSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, truncateSync, writeSync, closeSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { Chain, importBlock, signImport, verifyChain } from '../../src/chain/index.js'
import { repairChain, type PetalNode } from '../../src/node/index.js'
import { QueryMirror, runQuery } from '../../src/query/index.js'
import { sealPathOf } from '../../src/storage/index.js'
import { extendChain, filesMatchIndex, fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, closedPort, startNode, stopAll } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'

const alice = fixtureKey('alice')
let source: PetalNode
let sourceDir: string
/** The source's data directory as it was before its node started (see copyOfSource). */
let pristineDir: string
let genesis: { params: Chain['params'], genesisFile: string }

beforeAll(async () => {
  const { chain, dir } = await newTestChain({ key: alice })
  await extendChain(chain, alice, 6, 4)
  // A side block too (a fork at height 5 that lost).
  const fork = Chain.open(await cloneGenesis(chain))
  for (let h = 1; h <= 4; h++) {
    const r = chain.get(h) as NonNullable<ReturnType<Chain['get']>>
    await importBlock(fork, chain.pathOf(r), r.seal, { expectedHash: r.hash })
  }
  const side = (await signImport(fork, makeSqlite(join(tmpDir(), 'side.db'), 2, 99), alice)).block
  await importBlock(chain, fork.pathOf(side), side.seal, { expectedHash: side.hash })
  fork.close()
  expect(chain.index.sideBlocks()).toHaveLength(1)
  chain.close()
  sourceDir = dir
  genesis = { params: chain.params, genesisFile: join(dir, '0000', 'block_00000000.db') }
  pristineDir = join(tmpDir(), 'pristine')
  cpSync(dir, pristineDir, { recursive: true })
  source = await startNode(dir, { name: 'source', key: alice })
}, 60_000)

afterAll(stopAll)

/**
 * A copy of the source's data directory (it holds the same blocks), made from the one taken before
 * its node started: the running node writes its directory (it creates query.db, whose
 * query.db-journal comes and goes, and signs checkpoints into chain.db), so a copy of the live
 * directory could fail on a file deleted mid-copy, or hold a torn database.
 */
function copyOfSource (): string {
  const dir = join(tmpDir(), 'copy')
  cpSync(pristineDir, dir, { recursive: true, filter: p => !/node\.lock|node-state|peers\.json|node\.key$/.test(p) })
  return dir
}

function flipByte (path: string, at: number): void {
  const fd = openSync(path, 'r+')
  const b = readFileSync(path)
  writeSync(fd, Buffer.from([(b[at] ?? 0) ^ 0xff]), 0, 1, at)
  closeSync(fd)
}

/** Damage four canonical blocks and the side block in every way a file can be damaged. */
function damage (c: Chain): void {
  flipByte(c.dir.blockPath(2), 5000)
  truncateSync(c.dir.blockPath(3), 1000)
  rmSync(c.dir.blockPath(4))
  writeFileSync(sealPathOf(c.dir.blockPath(5)), '3006020101020101\n')
  const side = c.index.sideBlocks()[0]
  if (side === undefined) throw new Error('no side block')
  rmSync(c.pathOf(side))
  rmSync(c.dir.blockPath(6))
  symlinkSync(c.dir.blockPath(1), c.dir.blockPath(6))
}

describe('verify --repair (in process)', () => {
  it('finds flipped, truncated, deleted and symlinked block files, a bad seal and a deleted side block, and restores them from a real peer', async () => {
    const c = Chain.open(copyOfSource())
    damage(c)
    expect((await verifyChain(c, { workers: 1 })).ok).toBe(false)

    const done: number[] = []
    const r = await repairChain(c, { peers: [addrOf(source)], knownPeers: false, onBlock: b => { done.push(b.height) } })
    expect(r.failed).toEqual([])
    expect(r.repaired.map(b => `${b.height} ${b.damage}${b.canonical ? '' : ' (side)'}`)).toEqual([
      '2 hash', '3 size', '4 missing', '5 seal', '6 not-a-file', '5 missing (side)'
    ])
    expect(done).toEqual([2, 3, 4, 5, 6, 5])
    expect(r.repaired.find(b => b.damage === 'seal')?.source).toBe('this directory')
    expect(r.repaired.filter(b => b.damage !== 'seal').every(b => b.source === `peer ${source.peerId}`)).toBe(true)
    expect(await filesMatchIndex(c)).toEqual([])
    expect((await verifyChain(c, { workers: 1 })).ok).toBe(true)
    // Nothing left to repair, nothing left in tmp/.
    expect((await repairChain(c, { knownPeers: false })).repaired).toEqual([])
    c.close()
  }, 60_000)

  it('copies from another data directory, and reports what no source has', async () => {
    const c = Chain.open(copyOfSource())
    rmSync(c.dir.blockPath(3))
    const nowhere = Chain.open(await cloneGenesis(genesis))
    nowhere.close()
    const none = await repairChain(c, { from: [nowhere.dir.root], knownPeers: false })
    expect(none.repaired).toEqual([])
    expect(none.failed).toMatchObject([{ height: 3, damage: 'missing', reason: 'no source had it' }])

    const r = await repairChain(c, { from: [nowhere.dir.root, sourceDir], knownPeers: false })
    expect(r.repaired).toMatchObject([{ height: 3, source: sourceDir }])
    expect(await filesMatchIndex(c)).toEqual([])
    c.close()
  })

  // A pulled mirror remembers its source's address; a source restarted on another port does not
  // answer there, and the report said 'no source had it' of a block the source has (user50).
  it('says a peer that does not answer at its address could not be reached, not that it lacks the block', async () => {
    const c = Chain.open(copyOfSource())
    rmSync(c.dir.blockPath(3))
    const port = await closedPort()
    const r = await repairChain(c, { peers: [`/ip4/127.0.0.1/tcp/${port}/p2p/${source.peerId.toString()}`], knownPeers: false })
    expect(r.failed).toMatchObject([{ height: 3, damage: 'missing' }])
    expect(r.failed[0]?.reason).toMatch(/^no source could be asked: 1 of 1 sources could not be reached .*--peer ADDR/)
    // Its address now: repaired.
    expect((await repairChain(c, { peers: [addrOf(source)], knownPeers: false })).repaired).toMatchObject([{ height: 3 }])
    c.close()
  }, 60_000)

  // Plain verify refuses a named pipe in a seal's place (DATA_FILE_NOT_REGULAR) and its hint says
  // `petal verify --repair`, which read the seal whole: its open waited for a writer for ever.
  it('puts back a seal that is a named pipe, without waiting for a writer', async () => {
    const c = Chain.open(copyOfSource())
    const seal = sealPathOf(c.dir.blockPath(2))
    rmSync(seal)
    execFileSync('mkfifo', [seal])
    let timer: NodeJS.Timeout | undefined
    const hung = new Promise<'hung'>(resolve => { timer = setTimeout(() => { resolve('hung') }, 10_000) })
    try {
      const r = await Promise.race([repairChain(c, { from: [sourceDir], knownPeers: false }), hung])
      expect(r).toMatchObject({ repaired: [{ height: 2, damage: 'seal' }], failed: [] })
      expect(await filesMatchIndex(c)).toEqual([])
    } finally {
      clearTimeout(timer)
      // A reader still blocked in its open: a writer lets it go, so that the test run can end.
      try { closeSync(openSync(seal, constants.O_WRONLY | constants.O_NONBLOCK)) } catch {}
      c.close()
    }
  }, 30_000)

  it('reports a directory in a block\'s or a seal\'s place, and a side block pruned meanwhile, and repairs the rest (the first ended the whole repair)', async () => {
    const c = Chain.open(copyOfSource())
    rmSync(c.dir.blockPath(2))
    rmSync(sealPathOf(c.dir.blockPath(3)))
    mkdirSync(sealPathOf(c.dir.blockPath(3)))
    rmSync(c.dir.blockPath(4))
    mkdirSync(c.dir.blockPath(4))
    const side = c.index.sideBlocks()[0] as NonNullable<ReturnType<Chain['get']>>
    rmSync(c.dir.forkPath(side.hash))
    // A running node prunes the side block while the others are repaired (pruneSideBlocks' index change).
    const r = await repairChain(c, { from: [sourceDir], knownPeers: false, onBlock: b => { if (b.height === 2) expect(c.index.tryWriteLockSync(() => { c.index.deleteBlock(side.hash) })).toBe(true) } })
    expect(r.repaired.map(b => `${b.height} ${b.damage}`)).toEqual(['2 missing'])
    expect(r.failed.map(b => `${b.height} ${b.damage}${b.canonical ? '' : ' (side)'}: ${b.reason ?? ''}`)).toEqual([
      `3 seal: seal file ${sealPathOf(c.dir.blockPath(3))} is a directory, not a regular file: move it aside, then run \`petal verify --repair\` again`,
      `4 not-a-file: block file ${c.dir.blockPath(4)} is a directory, not a regular file: move it aside, then run \`petal verify --repair\` again`,
      `5 missing (side): block ${side.hash} is no longer stored (pruned meanwhile)`
    ])
    // Moved aside, they are repaired.
    rmSync(sealPathOf(c.dir.blockPath(3)), { recursive: true })
    rmSync(c.dir.blockPath(4), { recursive: true })
    const again = await repairChain(c, { from: [sourceDir], knownPeers: false })
    expect([again.repaired.map(b => b.height), again.failed]).toEqual([[3, 4], []])
    expect(await filesMatchIndex(c)).toEqual([])
    c.close()
  }, 30_000)

  it('asks the peers remembered in peers.json when none is given', async () => {
    const dir = copyOfSource()
    writeFileSync(join(dir, 'peers.json'), JSON.stringify({ peers: [{ id: source.peerId, addrs: [addrOf(source)], lastSeen: Date.now() }] }))
    const c = Chain.open(dir)
    rmSync(c.dir.blockPath(1))
    const r = await repairChain(c)
    expect(r.repaired).toMatchObject([{ height: 1, source: `peer ${source.peerId}` }])
    c.close()
  })

  it('import of a good copy puts back a damaged stored file (it used to say "known")', async () => {
    const c = Chain.open(copyOfSource())
    flipByte(c.dir.blockPath(2), 4096)
    const rec = c.get(2) as NonNullable<ReturnType<Chain['get']>>
    const good = join(tmpDir(), 'good.db')
    copyFileSync(join(sourceDir, '0000', 'block_00000002.db'), good)
    const r = await importBlock(c, good, rec.seal)
    expect(r.status).toBe('repaired')
    expect(await filesMatchIndex(c)).toEqual([])
    expect((await importBlock(c, good, rec.seal)).status).toBe('known')
    c.close()
  })
})

describe('the query mirror and a missing block file', () => {
  it('keeps what it has, reports the missing block with a code, answers queries over the blocks below, and catches up after repair', async () => {
    const c = Chain.open(copyOfSource())
    rmSync(c.dir.queryDb, { force: true })
    rmSync(c.dir.blockPath(4))
    const mirror = QueryMirror.open(c)
    try {
      const s = await mirror.sync()
      expect(s.tip?.height).toBe(3)
      expect(s.stoppedAt).toMatchObject({ height: 4, code: 'MIRROR_BLOCK_MISSING', hint: expect.stringContaining('petal verify --repair') })
      // Queries answer over heights 0..3.
      let out = ''
      const q = await runQuery(c, { sql: 'SELECT max(_height) AS h, count(*) AS n FROM t', format: 'ndjson', onText: t => { out += t } })
      expect(out).toBe('{"h":3,"n":12}\n')
      expect(q.sync?.stoppedAt?.height).toBe(4)

      await repairChain(c, { peers: [addrOf(source)], knownPeers: false })
      const after = await mirror.sync()
      expect(after.stoppedAt).toBeUndefined()
      expect(after.tip?.height).toBe(c.tip().height)
    } finally {
      mirror.close()
      c.close()
    }
  })
})
