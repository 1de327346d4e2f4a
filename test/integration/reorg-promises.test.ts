import { afterAll, describe, expect, it, vi } from 'vitest'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, importBlock, signImport } from '../../src/chain/index.js'
import type { SigningKey } from '../../src/crypto/index.js'
import { Ingest, ResealRecord } from '../../src/ingest/index.js'
import type { PetalNode } from '../../src/node/index.js'
import { findCheckpoint, parseTrustFile, proveRows, signatoryVkey, verifyProof } from '../../src/proof/index.js'
import { readSeal, type BlockRecord } from '../../src/storage/index.js'
import { fixtureKey, keyOpBlock, makeSqlite, newTestChain } from '../helpers/chain.js'
import { http } from '../helpers/api.js'
import { canonicalRows, checkExactlyOnce } from '../helpers/ingest.js'
import { startNode, stopAll, stopNode } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

/**
 * "Reorgs lose nothing", tried on a running node (review45): the node's own sync loop re-seals its
 * signatory's orphans and its seal loop its records, while the branches that orphan them are
 * imported into its chain as another process's `petal import` would (no peers: no fork choice of
 * the network's in the way of the exact branches each case needs).
 */
afterAll(stopAll)

const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
const carol = fixtureKey('carol')
const opened: Chain[] = []
afterAll(() => { for (const c of opened.splice(0)) c.close() })

/** A chain where alice added bob at height 1 (the node's directory), and a copy of it to grow branches from. */
async function twoSignatories (): Promise<{ dir: string, base: string }> {
  const { chain, dir } = await newTestChain({ key: alice })
  await keyOpBlock(chain, alice, 'A', bob)
  chain.close()
  const base = join(tmpDir(), 'base')
  cpSync(dir, base, { recursive: true })
  return { dir, base }
}

/** An offline branch: a copy of `base`, with `blocks` (side or canonical) of `from` put on it first. */
async function branchOf (base: string, from?: Chain, blocks: BlockRecord[] = []): Promise<Chain> {
  const to = join(tmpDir(), 'branch')
  cpSync(base, to, { recursive: true })
  const c = Chain.open(to)
  opened.push(c)
  for (const b of blocks) {
    // Where its file is now (a side block's is under forks/).
    const path = (from as Chain).pathOf((from as Chain).index.byHash(b.hash) as BlockRecord)
    await importBlock(c, path, readSeal(path), { expectedHash: b.hash })
  }
  return c
}

async function grow (c: Chain, by: SigningKey, n: number, seed: number): Promise<void> {
  for (let i = 0; i < n; i++) await signImport(c, makeSqlite(join(tmpDir(), 'g.db'), 1, seed + i), by)
}

/** Import the branch's canonical blocks above `above` into the node's chain. */
async function feed (node: PetalNode, branch: Chain, above: number): Promise<void> {
  for (const b of branch.index.range(above + 1, branch.tip().height)) {
    const p = branch.pathOf(b)
    await importBlock(node.chain, p, readSeal(p), { expectedHash: b.hash })
  }
}

function mineWith (node: PetalNode, rowsRoot: string): BlockRecord[] {
  return node.chain.index.range(1, node.chain.tip().height).filter(b => b.signer === alice.id && b.rowsRoot === rowsRoot)
}

function ingestOf (n: PetalNode): Ingest {
  if (n.ingest === undefined) throw new Error('node without an ingest service')
  return n.ingest
}

describe('a signatory node across reorgs (review45)', () => {
  it('a reorg back to its original block: the node re-seals its later orphan, and not the re-seal of the original (no rows twice)', async () => {
    const { dir, base } = await twoSignatories()
    const a = await startNode(dir, { name: 'A', key: alice })
    const m = (await a.publish(makeSqlite(join(tmpDir(), 'm.db'), 4, 1))).block
    expect(m.height).toBe(2)

    // Reorg 1: bob's longer branch orphans m; the node re-seals it on the new tip.
    await feed(a, await branchOf(base).then(async y => { await grow(y, bob, 2, 10); return y }), 1)
    // (The heights depend on how the blocks' hashes order each tie: the checks do not.)
    await waitFor(() => mineWith(a, m.rowsRoot)[0], { what: 'the node to re-seal its orphan', timeout: 30_000 })
    const t = (await a.publish(makeSqlite(join(tmpDir(), 't.db'), 2, 7))).block

    // Reorg 2, back to m's branch (grown elsewhere to height 6, past the node's chain): m is
    // canonical again, its re-seal and the later t are orphaned. t must come back; the re-seal
    // must not (m holds its rows).
    const x = await branchOf(base, a.chain, [a.chain.index.byHash(m.hash) as BlockRecord])
    await grow(x, bob, 4, 20)
    await feed(a, x, 2)
    expect(a.chain.index.byHash(m.hash)?.canonical).toBe(true)
    await waitFor(() => mineWith(a, t.rowsRoot).length > 0, { what: 'the node to re-seal its later orphan', timeout: 30_000 })
    expect(mineWith(a, m.rowsRoot).map(b => b.hash)).toEqual([m.hash])
    expect(mineWith(a, t.rowsRoot)).toHaveLength(1)
    expect(canonicalRows(a.chain, 't').filter(r => r.height === m.height)).toHaveLength(4)
  }, 120_000)

  it('its orphan is re-sealed although a block of alice\'s with the same rows won above the fork, and the node records which orphan the re-seal copies (reseal47)', async () => {
    const { dir, base } = await twoSignatories()
    const a = await startNode(dir, { name: 'A', key: alice })
    const file = makeSqlite(join(tmpDir(), 'f.db'), 3, 5)
    const m = (await a.publish(file)).block
    // The winning branch holds the same file, published there on its own (not m's re-seal).
    const y = await branchOf(base)
    await grow(y, bob, 1, 30)
    await signImport(y, file, alice)
    await grow(y, bob, 1, 40)
    await feed(a, y, 1)
    expect(a.chain.index.byHash(m.hash)?.canonical).toBe(false)
    // By rows root alone m was back, and never re-sealed: the file once where it was published twice.
    const [, s] = await waitFor(() => { const c = mineWith(a, m.rowsRoot); return c.length === 2 ? c : undefined }, { what: 'the node to re-seal m', timeout: 30_000 })
    expect(new ResealRecord(ingestOf(a).store).originOf((s as BlockRecord).hash)).toBe(m.hash)
  }, 120_000)

  it('its block holding only a key addition is re-sealed although its own empty block won above the fork', async () => {
    const { dir, base } = await twoSignatories()
    const a = await startNode(dir, { name: 'A', key: alice })
    await keyOpBlock(a.chain, alice, 'A', carol)
    expect(a.chain.keysAt(a.chain.tip()).isActive(carol.id)).toBe(true)
    const y = await branchOf(base)
    await grow(y, bob, 1, 30)
    await signImport(y, undefined, alice)
    await grow(y, bob, 1, 31)
    await feed(a, y, 1)
    expect(a.chain.keysAt(a.chain.tip()).get(carol.id)).toBeUndefined()
    await waitFor(() => a.chain.keysAt(a.chain.tip()).isActive(carol.id), { what: 'carol\'s addition re-sealed on the new tip', timeout: 30_000 })
    const added = a.chain.keysAt(a.chain.tip()).get(carol.id)?.addedAt as number
    expect(a.chain.get(added)?.signer).toBe(alice.id)
    expect(a.chain.index.keyOpsOf(a.chain.get(added)?.hash as string).map(o => o.keyId)).toEqual([carol.id])
  }, 120_000)

  it('receipts follow their rows through two reorgs in a row, a restart and a reorg back to their first block: sealed once, with a proof that verifies', async () => {
    const { dir, base } = await twoSignatories()
    const ingest = { everyMs: 3_600_000, pollMs: 50 }
    let a = await startNode(dir, { name: 'A', key: alice, ingest })
    const rows = Array.from({ length: 30 }, (_, i) => ({ n: BigInt(i), note: `r-${i}` }))
    const { receipts } = await ingestOf(a).append('events', rows)
    const m = (await ingestOf(a).sealNow()).blocks[0]
    expect(m?.height).toBe(2)
    const mBlock = a.chain.index.byHash(m?.hash as string) as BlockRecord
    // The one block every receipt names, if they name one (a block that may be orphaned later).
    const sealedIn = (): string | undefined => {
      const hs = new Set(receipts.map(id => ingestOf(a).receipt(id)?.sealed?.blockHash))
      return hs.size === 1 ? [...hs][0] : undefined
    }
    const sealedAt = (): number | undefined => { const h = sealedIn(); return h === undefined ? undefined : a.chain.index.byHash(h)?.height }
    const key = (v: Record<string, unknown>): string => String(v.note)

    // Reorg 1 (bob to height 3), then reorg 2 (another branch of bob's to height 5): each time the
    // rows end in one block of the winning chain (its height as the blocks' hashes order each tie).
    const y = await branchOf(base)
    await grow(y, bob, 2, 40)
    await feed(a, y, 1)
    const first = await waitFor(() => { const h = sealedIn(); return h !== undefined && h !== m?.hash ? h : undefined }, { what: 'the rows re-sealed after the first reorg', timeout: 30_000 })
    const z = await branchOf(base)
    await grow(z, bob, 4, 50)
    await feed(a, z, 1)
    const second = await waitFor(() => { const h = sealedIn(); return h !== undefined && h !== first && h !== m?.hash ? h : undefined }, { what: 'the rows re-sealed after the second reorg', timeout: 30_000 })
    expect(checkExactlyOnce(a.chain, ingestOf(a), 'events', receipts, key)).toEqual([])

    // A restart keeps them where they are.
    await stopNode(a)
    a = await startNode(dir, { name: 'A', key: alice, ingest })
    expect(sealedIn()).toBe(second)
    expect(await ingestOf(a).sealNow()).toEqual({ blocks: [] })
    expect(checkExactlyOnce(a.chain, ingestOf(a), 'events', receipts, key)).toEqual([])

    // The first branch comes back longest (height 8, past anything the node reached): the rows are m's again, and are not sealed a fourth time.
    const x = await branchOf(base, a.chain, [mBlock])
    await grow(x, bob, 6, 60)
    await feed(a, x, 2)
    expect(sealedAt()).toBe(2)
    const more = await ingestOf(a).append('events', [{ n: 100n, note: 'later' }])
    const sealed = await ingestOf(a).sealNow()
    expect(sealed.blocks.map(b => b.rows)).toEqual([1])
    expect(checkExactlyOnce(a.chain, ingestOf(a), 'events', [...receipts, ...more.receipts], key)).toEqual([])
    expect(canonicalRows(a.chain, 'events')).toHaveLength(31)

    // The receipt's proof, in m, verifies against the signatories' keys.
    const rc = ingestOf(a).receipt(receipts[11] as string)?.sealed
    expect(rc?.blockHash).toBe(m?.hash)
    await waitFor(() => findCheckpoint(a.chain, { height: 2 }) !== undefined, { what: 'a checkpoint covering height 2', timeout: 30_000 })
    const proof = await proveRows(a.chain, { height: 2, table: 'events', rows: [{ rowid: BigInt(rc?.rowid ?? '0') }] })
    const trust = await parseTrustFile(new TextEncoder().encode([await signatoryVkey(a.chain.chainId, alice), await signatoryVkey(a.chain.chainId, bob)].join('\n')))
    if (typeof trust === 'string') throw new Error(trust)
    const report = await verifyProof(JSON.stringify(proof), trust)
    expect(report.ok, report.failure?.message).toBe(true)
    expect(report.rows[0]?.values[1]).toEqual({ text: 'r-11' })
  }, 180_000)

  it('GET /receipts/{id}/proof during a reorg that moves the row: never a proof of the row now at the receipt\'s old height and rowid', async () => {
    const { chain, dir } = await newTestChain({ key: alice })
    chain.close()
    const base = join(tmpDir(), 'base')
    cpSync(dir, base, { recursive: true })
    // The other branch: its block at height 1 has an `events` table too, with the same rowids.
    const y = await branchOf(base)
    for (let i = 0; i < 2; i++) await signImport(y, makeSqlite(join(tmpDir(), 'y.db'), 30, 70 + i, 'events'), alice)
    const a = await startNode(dir, { name: 'A', key: alice, ingest: { everyMs: 3_600_000, pollMs: 50 }, http: { address: { host: '127.0.0.1', port: 0 } } })
    const { receipts } = await ingestOf(a).append('events', Array.from({ length: 30 }, (_, i) => ({ n: BigInt(i), note: `mine-${i}` })))
    const m = (await ingestOf(a).sealNow()).blocks[0]
    expect(m?.height).toBe(1)
    const m1 = m?.hash
    await waitFor(() => findCheckpoint(a.chain, { height: 1 }) !== undefined, { what: 'a checkpoint covering height 1', timeout: 30_000 })
    const id = receipts[4] as string
    const url = `${a.httpUrl ?? ''}api/v1/receipts/${id}/proof`
    const before = await http(url)
    expect(before.status, before.text).toBe(200)
    expect(before.text).toContain('mine-4')

    // The reorg lands while the route is between reading the receipt and reading the block (it
    // closes its own reader of pending.db there): the row is pending again, and the block now at
    // height 1 holds another `events` row under the same rowid, covered by a checkpoint. In that
    // reader's close, not the first close of any Ingest: the slow tier's files share a process
    // (isolate: false), and another's close in this window took the reorg, which then ran beside
    // the route, not inside it: a proof of the row still in m (docs/performance/suite.md, "Session 51:
    // test health (health51)").
    const close = Ingest.prototype.close
    let landed = false
    const spy = vi.spyOn(Ingest.prototype, 'close').mockImplementation(async function (this: Ingest) {
      if (!landed && this !== ingestOf(a) && this.store.readonly && this.store.path === a.chain.dir.pendingDb) {
        landed = true
        await feed(a, y, 0)
        await waitFor(() => findCheckpoint(a.chain, { height: 2 }) !== undefined, { what: 'a checkpoint of the other branch', timeout: 30_000 })
      }
      await close.call(this)
    })
    try {
      const during = await http(url)
      expect(landed).toBe(true)
      expect(during.text).not.toContain('"values"')
      expect(during.status, during.text).toBe(409)
      expect((during.json as { error: { code: string } }).error.code).toBe('PROOF_ROW_PENDING')
    } finally {
      spy.mockRestore()
    }
    // Its rows re-sealed on the new branch (at 2 or 3, as the blocks' hashes order the forks),
    // the receipt's proof is of its own row again.
    const moved = await waitFor(() => { const r = ingestOf(a).receipt(id)?.sealed; return r !== undefined && r.blockHash !== m1 ? r : undefined }, { what: 'the row re-sealed on the new branch', timeout: 30_000 })
    await waitFor(() => findCheckpoint(a.chain, { height: moved.height }) !== undefined, { what: 'a checkpoint covering the re-seal', timeout: 30_000 })
    const after = await http(url)
    expect(after.status, after.text).toBe(200)
    expect(after.text).toContain('mine-4')
  }, 120_000)
})
