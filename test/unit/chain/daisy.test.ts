import Database from 'better-sqlite3'
import { copyFileSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { execSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { GENESIS_PREVIOUS_HASH, headerFromMeta } from '../../../src/block/index.js'
import { adoptDaisy, Chain, checkAdoption, checkDaisyChain, DAISY_COMMITMENT_META, daisyCommitmentOf, daisyWarnings, recordedDaisyCommitment, reindexChain, updateDaisyState, verifyChain } from '../../../src/chain/index.js'
import { DaisyDir, isDaisyDir } from '../../../src/storage/index.js'
import { isPetalError } from '../../../src/util/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { buildDaisyDir, buildDefaultVectorsDir, daisyBlockPath, hashTree, tamperBlock } from '../../helpers/daisy.js'
import { tmpDir } from '../../helpers/tmp.js'

async function failure (p: Promise<unknown>): Promise<{ code: string, height: unknown, message: string, hint?: string }> {
  try {
    await p
  } catch (err) {
    if (!isPetalError(err)) throw err
    const d: Record<string, unknown> = { ...err.details }
    return { code: err.code, height: d.height, message: err.message, hint: err.hint }
  }
  throw new Error('expected a failure')
}

describe('Daisy data directories (v1 rules, read-only)', () => {
  it('checks a Daisy chain with a key operation and indexes it without writing a byte of the Daisy directory', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    expect(isDaisyDir(f.root)).toBe(true)
    const before = hashTree(f.root)
    const r = await checkDaisyChain(new DaisyDir(f.root))
    expect(r.blocks).toBe(4)
    expect(r.tip).toEqual({ height: 3, hash: f.hashes[3] })
    expect(r.warnings).toEqual([])
    expect(r.keys.get(f.bob.id)?.addedAt).toBe(2)

    const state = join(tmpDir(), 'state')
    const u = await updateDaisyState(f.root, state)
    expect(u).toMatchObject({ added: 4, rebuilt: true, tipHeight: 3 })
    // Up to date: nothing is checked again.
    expect((await updateDaisyState(f.root, state)).added).toBe(0)
    const chain = Chain.open(state, { readonly: true })
    try {
      expect(chain.tip()).toMatchObject({ height: 3, hash: f.hashes[3], version: 1, signer: f.bob.id })
      expect(chain.index.tablesOf(f.hashes[1] as string).map(t => [t.name, t.rows])).toEqual([['pages', 2]])
      expect(chain.keysAt(chain.tip()).all().map(s => [s.keyId, s.addedAt])).toEqual([[f.alice.id, 0], [f.bob.id, 2]])
      expect(chain.pathOf(chain.tip())).toBe(daisyBlockPath(f.root, 3))
      expect(chain.params.quorumRule).toBe('daisy')
    } finally {
      chain.close()
    }
    expect(hashTree(f.root)).toEqual(before)
  })

  it('indexes the blocks Daisy added since, and rebuilds when daisy.db no longer has the indexed tip', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const state = join(tmpDir(), 'state')
    const db = join(f.root, 'daisy.db')
    const full = readFileSync(db)
    const truncate = (): void => { const d = new Database(db); d.prepare('DELETE FROM blockchain WHERE height > 1').run(); d.close() }
    truncate() // as when Daisy had two blocks
    expect(await updateDaisyState(f.root, state)).toMatchObject({ rebuilt: true, added: 2, tipHeight: 1 })
    writeFileSync(db, full) // Daisy added two more
    expect(await updateDaisyState(f.root, state)).toMatchObject({ rebuilt: false, added: 2, tipHeight: 3 })
    truncate()
    expect(await updateDaisyState(f.root, state)).toMatchObject({ rebuilt: true, added: 2, tipHeight: 1 })
  })

  it('names a tampered block at its height, a missing file, a broken link and a missing daisy.db', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    tamperBlock(daisyBlockPath(f.root, 2), 'Main Page', 'Main Pagf')
    expect(await failure(checkDaisyChain(new DaisyDir(f.root)))).toMatchObject({ code: 'DAISY_HASH_MISMATCH', height: 2 })
    const state = join(tmpDir(), 'state')
    expect(await failure(updateDaisyState(f.root, state))).toMatchObject({ code: 'DAISY_HASH_MISMATCH', height: 2 })

    const g = buildDaisyDir(join(tmpDir(), 'daisy'))
    rmSync(daisyBlockPath(g.root, 3))
    expect(await failure(checkDaisyChain(new DaisyDir(g.root)))).toMatchObject({ code: 'DAISY_BLOCK_MISSING', height: 3 })

    // Block 2's file at height 1, and daisy.db made to agree with the files: the link is what breaks.
    const l = buildDaisyDir(join(tmpDir(), 'daisy'))
    copyFileSync(daisyBlockPath(l.root, 2), daisyBlockPath(l.root, 1))
    const db = new Database(join(l.root, 'daisy.db'))
    db.prepare('DELETE FROM blockchain WHERE height > 1').run()
    db.prepare('UPDATE blockchain SET hash = ? WHERE height = 1').run(l.hashes[2])
    db.close()
    expect(await failure(checkDaisyChain(new DaisyDir(l.root)))).toMatchObject({ code: 'DAISY_BROKEN_LINK', height: 1 })

    // Rearranged by hand into Petal's layout: still Daisy's (daisy.db says so), and the hint says where the blocks belong.
    const m = buildDaisyDir(join(tmpDir(), 'daisy'))
    renameSync(join(m.root, 'blocks', '0000'), join(m.root, '0000'))
    expect(isDaisyDir(m.root)).toBe(true)
    const moved = await failure(checkDaisyChain(new DaisyDir(m.root)))
    expect(moved).toMatchObject({ code: 'DAISY_BLOCK_MISSING', height: 0 })
    // The hint, run as it says (blocks/ removed too, as a hand rearrangement may leave it).
    rmSync(join(m.root, 'blocks'), { recursive: true })
    const cmd = /`(mkdir -p .+)`/.exec(moved.hint ?? '')?.[1]
    expect(cmd).toBeDefined()
    execSync(cmd as string)
    expect((await checkDaisyChain(new DaisyDir(m.root))).blocks).toBe(4)

    rmSync(join(l.root, 'daisy.db'))
    expect(isDaisyDir(l.root)).toBe(true)
    expect(await failure(checkDaisyChain(new DaisyDir(l.root)))).toMatchObject({ code: 'DAISY_DB_MISSING' })
  })

  it('reports Daisy\'s defects as warnings with their heights: a signer counted twice, a key endorsing itself', async () => {
    const alice = fixtureKey('alice')
    const bob = fixtureKey('bob')
    const f = buildDaisyDir(join(tmpDir(), 'daisy'), [
      { signer: alice, pages: [['a', 1]], keysWithoutPk: true, keyOps: [{ op: 'A', target: bob, signers: [alice, alice] }] },
      { signer: alice, keyOps: [{ op: 'R', target: bob, signers: [bob] }] }
    ])
    const r = await checkDaisyChain(new DaisyDir(f.root))
    expect(r.warnings.map(w => [w.height, w.kind])).toEqual([[1, 'SIGNER_COUNTED_TWICE'], [1, 'QUORUM_EXCEEDED'], [2, 'SELF_ENDORSEMENT']])
    expect(r.keys.get(bob.id)?.revokedAt).toBe(2)
    const state = join(tmpDir(), 'state')
    await updateDaisyState(f.root, state)
    const chain = Chain.open(state, { readonly: true })
    expect(daisyWarnings(chain).map(w => w.height)).toEqual([1, 1, 2])
    chain.close()
  })

  it('Daisy\'s default genesis vectors: its own prev-hash and key signatures verify; a rebuilt file is not the default chain\'s genesis', async () => {
    const d = buildDefaultVectorsDir(join(tmpDir(), 'daisy'))
    // No chainparams.json: the default chain, whose genesis is 9a0f….
    expect(await failure(checkDaisyChain(new DaisyDir(d.root)))).toMatchObject({ code: 'DAISY_GENESIS_MISMATCH' })
    // Naming the rebuilt file: the in-file signatures (high-S included) pass; only the seal, which
    // signs the original file's hash, cannot.
    writeFileSync(join(d.root, 'chainparams.json'), JSON.stringify({ genesis_block_hash: d.hash, genesis_block_hash_signature: d.vectors.genesis_block_hash_signature }))
    // (DAISY_BLOCK_INVALID, the v1 rule broken in its details: mend30.)
    expect(await failure(checkDaisyChain(new DaisyDir(d.root)))).toMatchObject({ code: 'DAISY_BLOCK_INVALID', height: 0, message: expect.stringContaining('(rule BAD_SEAL)') })
  })

  it('adoption: the genesis commits to the Daisy tip; checkAdoption holds the copy to it; only a Daisy signatory adopts', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const before = hashTree(f.root)
    expect(await failure(adoptDaisy(f.root, join(tmpDir(), 'other'), fixtureKey('carol')))).toMatchObject({ code: 'SIGNER_NOT_AUTHORISED', height: 3 })
    const dir = join(tmpDir(), 'new')
    const r = await adoptDaisy(f.root, dir, f.bob)
    try {
      expect(r.commitment).toMatchObject({ genesisHash: f.genesisHash, tipHeight: 3, tipHash: f.hashes[3] })
      expect(r.chain.keysAt(r.chain.tip()).active().map(k => k.keyId).sort()).toEqual([f.alice.id, f.bob.id].sort())
      expect(await daisyCommitmentOf(r.chain)).toEqual(r.commitment)
      expect((await checkAdoption(r.chain))?.blocks).toBe(4)
      // What verify's replay read of the genesis (its pages) commits to the same: checkAdoption
      // takes it instead of reading the genesis again.
      const v = await verifyChain(r.chain, { workers: 1 })
      expect(v.genesis?.daisy).toEqual(r.commitment)
      expect((await checkAdoption(r.chain, { genesis: v.genesis }))?.blocks).toBe(4)
      expect(await checkAdoption(r.chain, { genesis: {} })).toBeUndefined()
      // The same chain definition, reformatted: not the bytes the genesis committed to.
      const params = join(dir, 'daisy', 'chainparams.json')
      writeFileSync(params, JSON.stringify(JSON.parse(readFileSync(params, 'utf8')), null, 2))
      expect(await failure(checkAdoption(r.chain))).toMatchObject({ code: 'DAISY_ADOPTION_MISMATCH', message: expect.stringContaining('chain parameters') })
      expect(await failure(checkAdoption(r.chain, { genesis: v.genesis }))).toMatchObject({ code: 'DAISY_ADOPTION_MISMATCH', message: expect.stringContaining('chain parameters') })
    } finally {
      r.chain.close()
    }
    expect(hashTree(f.root)).toEqual(before)
  })

  it('the index records what the genesis commits to (status reads it there); absent, unreadable or of another genesis, the file is read', async () => {
    const f = buildDaisyDir(join(tmpDir(), 'daisy'))
    const r = await adoptDaisy(f.root, join(tmpDir(), 'new'), f.bob)
    const plain = await newTestChain()
    try {
      const g = r.chain.get(0)?.hash ?? ''
      expect(recordedDaisyCommitment(r.chain.index, g)).toEqual(r.commitment)
      expect(recordedDaisyCommitment(plain.chain.index, plain.chain.chainId)).toBeUndefined()
      expect(recordedDaisyCommitment(r.chain.index, plain.chain.chainId)).toBe('unknown')
      const set = async (value: string): Promise<void> => { await r.chain.index.withWriteLock(async () => { r.chain.index.setMeta(DAISY_COMMITMENT_META, value) }) }
      // Another genesis's record (it commits to nothing), a damaged one, a wrong field: the file decides.
      for (const value of [JSON.stringify({ genesis: plain.chain.chainId, daisy: null }), '{"genesis":', JSON.stringify({ genesis: g, daisy: { ...r.commitment, tipHeight: '3' } })]) {
        await set(value)
        expect(recordedDaisyCommitment(r.chain.index, g)).toBe('unknown')
        expect(await daisyCommitmentOf(r.chain, { recorded: true })).toEqual(r.commitment)
      }
      // An index from before the record: reindex writes it.
      await r.chain.index.withWriteLock(async () => { r.chain.index.clear() })
      expect(recordedDaisyCommitment(r.chain.index, g)).toBe('unknown')
      await reindexChain(r.chain.dir.root)
      expect(recordedDaisyCommitment(r.chain.index, g)).toEqual(r.commitment)
      expect(await daisyCommitmentOf(r.chain, { recorded: true })).toEqual(r.commitment)
    } finally {
      r.chain.close()
      plain.chain.close()
    }
  })

  it('a genesis carries the Daisy commitment whole or not at all, and only a genesis', () => {
    const meta = (extra: Record<string, string>): Map<string, string> => new Map(Object.entries({
      Version: '2', Height: '0', PreviousBlockHash: GENESIS_PREVIOUS_HASH, PreviousBlockHashSignature: '30', CreatorPublicKey: `1:${'a'.repeat(64)}`,
      Timestamp: '2026-01-01T00:00:00Z', RowsRoot: 'b'.repeat(64), QuorumRule: 'daisy-capped', MaxBlockBytes: '65536', MaxReorgDepth: '10', ...extra
    }))
    const all = { DaisyGenesisHash: 'c'.repeat(64), DaisyChainParams: 'default', DaisyTipHeight: '3', DaisyTipHash: 'd'.repeat(64) }
    expect(headerFromMeta(meta(all)).daisy).toEqual({ genesisHash: 'c'.repeat(64), chainParams: 'default', tipHeight: 3, tipHash: 'd'.repeat(64) })
    expect(() => headerFromMeta(meta({ DaisyTipHash: 'd'.repeat(64) }))).toThrow(/DaisyGenesisHash is missing/)
    expect(() => headerFromMeta(meta({ ...all, DaisyTipHeight: '03' }))).toThrow(/DaisyTipHeight/)
  })
})
