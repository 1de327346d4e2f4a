import { chmodSync, cpSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { Chain, importBlock, reindexChain } from '../../../src/chain/index.js'
import type { Network } from '../../../src/network/index.js'
import { CheckpointDuty } from '../../../src/node/checkpoint-duty.js'
import { addCosignature, cosignCheckpoint, WITNESS_COSIGNED_FILE, keepReceivedCheckpoint, OWN_WITNESS_META, readCheckpointNote, resetWitness, signTipCheckpoints, WITNESS_RESETS_FILE, witnessResets, witnessVkeySync } from '../../../src/proof/index.js'
import { readSeal, WITNESS_KEY_LAST_META, WITNESS_LAST_META, WITNESS_RESETS_META } from '../../../src/storage/index.js'
import { nullLogger, toHex, type Logger } from '../../../src/util/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'
import { petalInProcess } from '../../helpers/cli.js'
import { asRoot, runAsOtherUserWith } from '../../helpers/other-user.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'

const alice = fixtureKey('alice')
const w = { name: 'witness.example/w', key: fixtureKey('carol') }

/** Three data directories of one chain (alice's, max_reorg_depth 2), 2 blocks long: a signatory's, a witness's, a rival branch's. */
async function threeCopies (witnessLogger?: Logger): Promise<{ s: Chain, wit: Chain, r: Chain }> {
  const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 2 } })
  await extendChain(chain, alice, 2, 2)
  chain.close()
  const copy = (name: string, logger?: Logger): Chain => { const d = join(tmpDir(), name); cpSync(dir, d, { recursive: true }); return Chain.open(d, { logger }) }
  return { s: Chain.open(dir), wit: copy('w', witnessLogger), r: copy('r') }
}

/** Place `from`'s canonical blocks `lo`…`hi` on `to`, as a peer's would be. */
async function placeFrom (to: Chain, from: Chain, lo: number, hi: number): Promise<void> {
  for (let h = lo; h <= hi; h++) {
    const p = from.dir.blockPath(h)
    await importBlock(to, p, readSeal(p))
  }
}

/** The final note (the smaller size) alice signs at `chain`'s tip. */
async function finalNote (chain: Chain): Promise<string> {
  const notes = await signTipCheckpoints(chain, alice)
  const final = notes.find(n => readCheckpointNote(n).checkpoint.final)
  if (final === undefined) throw new Error('no final checkpoint signed')
  return final
}

// docs/proofs.md, "Witness cosignatures": a witness cosigns a checkpoint only when it is final by
// its signer's tip line and at the witness's own tip. Until session 54 the signer's line alone: a
// witness behind cosigned a tree its own chain could still leave, and then refused every later
// checkpoint for good ("the chain no longer contains the last checkpoint this witness cosigned").
describe('a witness behind the signatory', () => {
  it('does not cosign a tree that is not final on its own chain, so a reorg of its chain leaves it able to cosign the new history', async () => {
    const { s, wit, r } = await threeCopies()
    // The signatory at tip 5 signs the final tree of size 4 (heights 0…3); the witness holds
    // block 3 (its tree has that size and root) but its tip is 3, so the tree is not final here.
    await extendChain(s, alice, 3, 3)
    await placeFrom(wit, s, 3, 3)
    const final4 = await finalNote(s)
    expect(readCheckpointNote(final4).checkpoint.size).toBe(4)
    expect(await keepReceivedCheckpoint(wit, final4, 'S')).toBe(true)
    expect(await cosignCheckpoint(wit, final4, w), 'not final at the witness\'s tip 3').toBeUndefined()
    // A longer branch forking below block 3 (a split: its blocks 3…6 are another history) reaches
    // the witness, which reorganises to it (one block abandoned, within max_reorg_depth).
    await extendChain(r, alice, 4, 4)
    await placeFrom(wit, r, 3, 6)
    expect(wit.tip().hash).toBe(r.tip().hash)
    // The witness cosigns that chain's final checkpoints: it never vouched for the tree it left.
    const final5 = await finalNote(r)
    expect(await keepReceivedCheckpoint(wit, final5, 'R')).toBe(true)
    expect(await cosignCheckpoint(wit, final5, w)).toContain(`— ${w.name} `)
    for (const c of [s, wit, r]) c.close()
  })

  it('cosigns the note it was sent while behind once its own chain has caught up (its sync goes idle)', async () => {
    const { s, wit, r } = await threeCopies()
    r.close()
    await extendChain(s, alice, 3, 3)
    await placeFrom(wit, s, 3, 3)
    const final4 = await finalNote(s)
    expect(await keepReceivedCheckpoint(wit, final4, 'S')).toBe(true)
    const sent: string[] = []
    const network = { publishCheckpoint: async (n: string) => { sent.push(n); return 1 }, connectedPeers: () => [] } as unknown as Network
    const duty = new CheckpointDuty(wit, network, { witness: w }, nullLogger, () => true)
    await duty.witness(final4)
    expect(sent, 'behind: nothing cosigned').toEqual([])
    // The witness places the signatory's blocks 4 and 5: size 4 is final at its tip now.
    await placeFrom(wit, s, 4, 5)
    // With witness-resets.json unreadable it cosigns nothing; once the hint's `mv` has run, the next
    // idle looks again, with tip and note unchanged (review56b: 8d81ca5c waited for a new tip).
    const file = join(wit.dir.root, WITNESS_RESETS_FILE)
    writeFileSync(file, '{')
    const looks = vi.spyOn(wit.index, 'withWriteLock')
    duty.synced(new AbortController().signal)
    await looks.mock.results[0]?.value
    expect(sent, 'which keys are retired unknown: nothing cosigned').toEqual([])
    renameSync(file, `${file}.bad`)
    looks.mockRestore()
    duty.synced(new AbortController().signal)
    await vi.waitFor(() => { expect(sent).toHaveLength(1) })
    expect(readCheckpointNote(sent[0] as string).checkpoint.size).toBe(4)
    expect(sent[0]).toContain(`— ${w.name} `)
    // Session 56: each idle looked again under the index's write lock, also with nothing changed.
    // Now once more (the stored note holds its line now), then not while tip and notes stay.
    const locks = vi.spyOn(wit.index, 'withWriteLock')
    for (let i = 0; i < 4; i++) duty.synced(new AbortController().signal)
    expect(locks, 'looks with nothing changed').toHaveBeenCalledTimes(1)
    await locks.mock.results[0]?.value
    // A record this user may not read stops cosigning, and its hint is `chmod a+r FILE`, which
    // changes neither its size nor its mtime: the next idle looks again (review57: until the next tip).
    const cosigned = join(wit.dir.root, WITNESS_COSIGNED_FILE)
    chmodSync(cosigned, 0o640)
    duty.synced(new AbortController().signal)
    expect(locks, 'the record\'s mode changed: looked at again').toHaveBeenCalledTimes(2)
    await locks.mock.results[1]?.value
    await extendChain(s, alice, 1, 3)
    await placeFrom(wit, s, 6, 6)
    const before = locks.mock.calls.length
    duty.synced(new AbortController().signal)
    expect(locks.mock.calls.length, 'a new tip: looked at again').toBe(before + 1)
    await locks.mock.results.at(-1)?.value
    expect(sent, 'nothing cosigned twice').toHaveLength(1)
    s.close()
    wit.close()
  })
})

// docs/proofs.md, "The last cosigned tree outlives chain.db": the tree a witness key last cosigned
// lived only in chain.db's meta, which reindex rebuilds from the block files: a witness whose
// chain.db was rebuilt after its block files went another way cosigned, with the same key, a tree
// inconsistent with one it had cosigned (until session 56). witness-cosigned.json keeps it.
describe('a witness whose chain.db was rebuilt', () => {
  it('still refuses, with the same key, a tree inconsistent with the one it cosigned; the reset then knows that key', async () => {
    const warnings: string[] = []
    const logger: Logger = { ...nullLogger, warn: (m: string) => { warnings.push(m) } }
    const { s, wit, r } = await threeCopies(logger)
    await extendChain(s, alice, 3, 3)
    await placeFrom(wit, s, 3, 5)
    const final4 = await finalNote(s)
    expect(await keepReceivedCheckpoint(wit, final4, 'S')).toBe(true)
    expect(await cosignCheckpoint(wit, final4, w)).toContain(`— ${w.name} `)
    const file = join(wit.dir.root, WITNESS_COSIGNED_FILE)
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject([{ key: w.key.publicKey.hex, size: 4, root: toHex(readCheckpointNote(final4).checkpoint.root) }])
    // Its block files from height 3 replaced by another branch's (a copy of another node's), and
    // chain.db removed and rebuilt from them: it knows no cosignature.
    await extendChain(r, alice, 4, 4)
    const dir = wit.dir.root
    wit.close()
    for (const f of ['chain.db', 'chain.db-wal', 'chain.db-shm']) rmSync(join(dir, f), { force: true })
    for (let h = 3; h <= 6; h++) {
      for (const ext of ['.db', '.sig']) {
        const to = wit.dir.blockPath(h).replace(/\.db$/, ext)
        rmSync(to, { force: true })
        if (h <= r.tip().height) cpSync(r.dir.blockPath(h).replace(/\.db$/, ext), to)
      }
    }
    await reindexChain(dir)
    const rebuilt = Chain.open(dir, { logger })
    expect(rebuilt.tip().hash).toBe(r.tip().hash)
    expect(rebuilt.index.getMeta(WITNESS_LAST_META), 'chain.db knows no cosignature').toBeUndefined()
    const final5 = await finalNote(r)
    expect(await keepReceivedCheckpoint(rebuilt, final5, 'R')).toBe(true)
    // Another key, which cosigned nothing, cosigns this branch: chain.db's record is one a key
    // since session 57 (until then one row shared by every key, which it took over).
    const other = { name: 'witness.example/w2', key: fixtureKey('erin') }
    expect(await cosignCheckpoint(rebuilt, final5, other)).toContain(`— ${other.name} `)
    expect(await cosignCheckpoint(rebuilt, final5, w), 'inconsistent with size 4, which the same key cosigned').toBeUndefined()
    expect(warnings.at(-1)).toContain('the chain no longer contains the last checkpoint this witness cosigned')
    const row = (k: Chain, key: string): string | undefined => k.index.getMeta(WITNESS_KEY_LAST_META + key)
    expect([row(rebuilt, w.key.publicKey.hex), row(rebuilt, other.key.publicKey.hex)]).toEqual([`4 ${toHex(readCheckpointNote(final4).checkpoint.root)}`, `5 ${toHex(readCheckpointNote(final5).checkpoint.root)}`])
    // The reset the warning names retires that key, and only it: the other key's tree is this
    // chain's. Until session 57 the reset judged the shared row, the other key's size 5, which this
    // chain holds, and refused (PROOF_WITNESS_NOT_STUCK): the warning's hint was false.
    const dave = fixtureKey('dave')
    await expect(resetWitness(rebuilt, w.key.publicKey)).rejects.toThrow(expect.objectContaining({ code: 'PROOF_WITNESS_SAME_KEY' }))
    expect((await resetWitness(rebuilt, dave.publicKey)).map(r => r.retired_key)).toEqual([w.key.publicKey.hex])
    expect(row(rebuilt, w.key.publicKey.hex)).toBeUndefined()
    expect(await cosignCheckpoint(rebuilt, final5, { name: w.name, key: dave })).toContain(`— ${w.name} `)
    // Nothing is stuck now: the retired key's entry in witness-cosigned.json (which a reset leaves)
    // was judged stuck again, and a second reset retired it again and named yet another key (review57b).
    await expect(resetWitness(rebuilt, fixtureKey('bob').publicKey)).rejects.toThrow(expect.objectContaining({ code: 'PROOF_WITNESS_NOT_STUCK' }))
    // The rows are kept by reindex with the checkpoints (CHECKPOINT_META).
    await reindexChain(dir)
    expect(row(rebuilt, other.key.publicKey.hex)).toBe(`5 ${toHex(readCheckpointNote(final5).checkpoint.root)}`)
    // A file that cannot be read: nothing cosigned, the hint logged.
    writeFileSync(file, '[')
    expect(await cosignCheckpoint(rebuilt, final5, { name: 'witness.example/other', key: fixtureKey('erin') })).toBeUndefined()
    expect(warnings.at(-1)).toContain(`\`mv ${file} ${file}.bad\``)
    for (const c of [s, rebuilt, r]) c.close()
  })
})

// docs/proofs.md, "A witness whose chain left what it cosigned": a witness an earlier Petal left
// stuck (it cosigned, on the signer's claim, a tree its own chain then left) refused every later
// checkpoint for good, and nothing cleared it. `petal witnesses reset` does, as the operator's
// recorded decision, with a new key: the old one vouched for the tree the chain left.
describe('a witness stuck by an earlier Petal', () => {
  it('is cleared by `petal witnesses reset` with a new key, which the refusal names; the old key cosigns no more', async () => {
    const warnings: string[] = []
    const logger: Logger = { ...nullLogger, warn: (m: string) => { warnings.push(m) } }
    const { s, wit, r } = await threeCopies(logger)
    await extendChain(s, alice, 3, 3)
    await placeFrom(wit, s, 3, 3)
    const final4 = await finalNote(s)
    // What a witness of session 53 did at tip 3: cosign size 4 on the signer's tip line, and remember it.
    const vkey = witnessVkeySync(w.name, w.key.publicKey)
    await wit.index.withWriteLock(async () => {
      wit.index.setMeta(OWN_WITNESS_META, vkey)
      wit.index.setMeta(WITNESS_LAST_META, `4 ${toHex(readCheckpointNote(final4).checkpoint.root)}`)
    })
    expect(await keepReceivedCheckpoint(wit, addCosignature(final4, w, 1_700_000_000), 'witness')).toBe(true)
    // And, as stored before a key rotation, the same tree cosigned by the key it ran with before.
    const before = { name: w.name, key: fixtureKey('erin') }
    await wit.index.withWriteLock(async () => {
      wit.index.checkpoints.insert({ size: 4, root: toHex(readCheckpointNote(final4).checkpoint.root), tip: 5, note: addCosignature(final4, before, 1_600_000_000), receivedAt: 0, source: 'witness' })
    })
    // Its chain still holds that tree: nothing to reset (a reset never erases a history it can still extend).
    await expect(resetWitness(wit, fixtureKey('dave').publicKey)).rejects.toThrow(expect.objectContaining({ code: 'PROOF_WITNESS_NOT_STUCK' }))
    // A longer branch forking below block 3 wins: the witness's chain no longer holds size 4.
    await extendChain(r, alice, 4, 4)
    // At tip 4 (size 4 not final here) the chain may go back to that tree: no reset yet (review55b).
    await placeFrom(wit, r, 3, 4)
    await expect(resetWitness(wit, fixtureKey('dave').publicKey)).rejects.toThrow(expect.objectContaining({ code: 'PROOF_WITNESS_NOT_STUCK' }))
    await placeFrom(wit, r, 5, 6)
    const final5 = await finalNote(r)
    expect(await keepReceivedCheckpoint(wit, final5, 'R')).toBe(true)
    expect(await cosignCheckpoint(wit, final5, w), 'stuck').toBeUndefined()
    // The upgrade of that chain.db (session 57): the shared row is the tree of the key
    // witness_vkey names, now its own row; it stays, binding a key with no record of its own (a
    // key whose record it overwrote is named nowhere else), as every key was bound before.
    const root4 = `4 ${toHex(readCheckpointNote(final4).checkpoint.root)}`
    expect([wit.index.getMeta(WITNESS_KEY_LAST_META + w.key.publicKey.hex), wit.index.getMeta(WITNESS_LAST_META)]).toEqual([root4, root4])
    expect(await cosignCheckpoint(wit, final5, { name: 'witness.example/fresh', key: fixtureKey('bob') }), 'a key with no record, held to the shared row').toBeUndefined()
    const dir = wit.dir.root
    expect(warnings.at(-1)).toContain(`\`petal --dir ${dir} witnesses reset --key NEWID\``)
    // The hint's command, run: with the key that cosigned, refused; with a new one, done and recorded.
    for (const k of ['carol', 'dave']) expect((await petalInProcess(['--dir', dir, 'keys', 'import', join(import.meta.dirname, '..', '..', 'fixtures', 'keys', `${k}.pem`)])).code).toBe(0)
    const carol = fixtureKey('carol').id
    const dave = fixtureKey('dave')
    const same = await petalInProcess(['--dir', dir, 'witnesses', 'reset', '--key', carol])
    expect(same.stderr).toContain('[PROOF_WITNESS_SAME_KEY]')
    expect(same.code).not.toBe(0)
    const done = await petalInProcess(['--dir', dir, 'witnesses', 'reset', '--key', dave.id])
    expect(done.stderr).toBe('')
    expect(done.code).toBe(0)
    expect(done.stdout).toContain(`retired ${vkey}: it cosigned size 4`)
    expect(done.stdout).toContain(`petal --dir ${dir} run --witness ${w.name} --key ${dave.id}`)
    const [reset] = witnessResets(wit)
    expect(reset?.abandoned.size).toBe(4)
    expect([wit.index.getMeta(WITNESS_KEY_LAST_META + w.key.publicKey.hex), wit.index.getMeta(WITNESS_LAST_META)], 'both gone with the reset').toEqual([undefined, undefined])
    expect(reset?.notes[0]).toContain(`— ${w.name} `)
    // The retired key cosigns nothing on this chain, and says which key to run with; nor the key
    // it ran with before (its line on the tree left: review55b).
    expect(await cosignCheckpoint(wit, final5, w)).toBeUndefined()
    expect(warnings.at(-1)).toContain(`--key ${dave.id}`)
    expect(await cosignCheckpoint(wit, final5, before), 'the key before the rotation').toBeUndefined()
    // The new key cosigns this chain's final checkpoints.
    expect(await cosignCheckpoint(wit, final5, { name: w.name, key: dave })).toContain(`— ${w.name} `)
    expect((await petalInProcess(['--dir', dir, 'witnesses', 'list'])).stdout).toContain(`cosigns with ${dave.id} since`)
    for (const c of [s, wit, r]) c.close()
  })

  // A Petal before session 54 recorded no witness_vkey: its stuck witness's key is named only by
  // its line in the notes kept. Until review55b, the reset took that key back and retired none.
  it('named by no witness_vkey: the key that cosigned is known by its line, refused and retired; the record outlives chain.db', async () => {
    const warnings: string[] = []
    const { s, wit, r } = await threeCopies({ ...nullLogger, warn: (m: string) => { warnings.push(m) } })
    await extendChain(s, alice, 3, 3)
    await placeFrom(wit, s, 3, 3)
    const final4 = await finalNote(s)
    // As that Petal stored it: its note as cosigned, inserted whole, and the tree in meta.
    const root = toHex(readCheckpointNote(final4).checkpoint.root)
    await wit.index.withWriteLock(async () => {
      wit.index.checkpoints.insert({ size: 4, root, tip: 5, note: addCosignature(final4, w, 1_700_000_000), receivedAt: 0, source: 'witness' })
      wit.index.setMeta(WITNESS_LAST_META, `4 ${root}`)
    })
    await extendChain(r, alice, 4, 4)
    await placeFrom(wit, r, 3, 6)
    const final5 = await finalNote(r)
    expect(await keepReceivedCheckpoint(wit, final5, 'R')).toBe(true)
    await expect(resetWitness(wit, w.key.publicKey)).rejects.toThrow(expect.objectContaining({ code: 'PROOF_WITNESS_SAME_KEY' }))
    const dave = fixtureKey('dave')
    expect((await resetWitness(wit, dave.publicKey)).map(r => r.retired_key)).toEqual([null])
    expect(await cosignCheckpoint(wit, final5, w), 'the retired key').toBeUndefined()
    expect(await cosignCheckpoint(wit, final5, { name: w.name, key: dave })).toContain(`— ${w.name} `)
    // The record outlives chain.db (session 56): a reset only chain.db records (session 55's) is
    // written to witness-resets.json at the next look, and a chain.db removed and rebuilt by
    // reindex, which knows no reset, still refuses the retired key. Until then it cosigned with it.
    const file = join(wit.dir.root, WITNESS_RESETS_FILE)
    rmSync(file)
    expect(await cosignCheckpoint(wit, final5, { name: 'witness.example/renamed', key: w.key }), 'retired under any name').toBeUndefined()
    expect(existsSync(file)).toBe(true)
    wit.close()
    for (const f of ['chain.db', 'chain.db-wal', 'chain.db-shm']) rmSync(join(wit.dir.root, f), { force: true })
    await reindexChain(wit.dir.root)
    const rebuilt = Chain.open(wit.dir.root, { logger: { ...nullLogger, warn: (m: string) => { warnings.push(m) } } })
    expect(rebuilt.index.getMeta(WITNESS_RESETS_META), 'chain.db knows no reset').toBeUndefined()
    expect(await cosignCheckpoint(rebuilt, final5, w), 'the retired key, chain.db rebuilt').toBeUndefined()
    expect(witnessResets(rebuilt).map(x => x.next_key)).toEqual([dave.id])
    // One the operator damaged: nothing is cosigned while which keys are retired is unknown.
    writeFileSync(file, '{')
    expect(await cosignCheckpoint(rebuilt, final5, { name: w.name, key: dave })).toBeUndefined()
    expect(warnings.join('\n')).toContain(`\`mv ${file} ${file}.bad\``)
    renameSync(file, `${file}.bad`) // the hint, run: a key not retired cosigns (dave cosigned size 5 already, before the rebuild: witness-cosigned.json remembers it)
    expect(await cosignCheckpoint(rebuilt, final5, { name: w.name, key: dave }), 'size 5 once').toBeUndefined()
    await extendChain(r, alice, 1, 2)
    await placeFrom(rebuilt, r, 7, 7)
    const final6 = await finalNote(r)
    expect(await keepReceivedCheckpoint(rebuilt, final6, 'R')).toBe(true)
    expect(await cosignCheckpoint(rebuilt, final6, { name: w.name, key: dave })).toContain(`— ${w.name} `)
    for (const c of [s, rebuilt, r]) c.close()
  })
})

// `sudo petal witnesses reset` under umask 077 leaves witness-resets.json root's, 0600: a witness
// run as another user cannot read it and cosigns nothing, and the hint said to move it aside, which
// forgets the keys it retires where chain.db was rebuilt (review56b of 88370199). Now: keep it, and
// the chmod that lets this user read it, run.
describe('a record of resets this user may not read', () => {
  it('is said as such, with the chmod that lets it be read, not the mv that forgets it', () => {
    const dir = tmpDir()
    chmodSync(dir, 0o777)
    const file = join(dir, WITNESS_RESETS_FILE)
    writeFileSync(file, '[]\n')
    chmodSync(file, 0o600)
    if (!asRoot) return // the file must be another user's
    const entry = srcEntry('proof', 'witness-resets-file.ts')
    const read = (): { code?: string, hint?: string, resets?: unknown } => JSON.parse(runAsOtherUserWith(loaderFor(entry), `const { readResetsFile } = await import(${JSON.stringify(entry)})
try { console.log(JSON.stringify({ resets: readResetsFile(process.argv[1]) })) } catch (e) { console.log(JSON.stringify({ code: e.code, hint: e.hint })) }`, dir).stdout)
    const e = read()
    expect(e.code).toBe('PROOF_WITNESS_RESETS_INVALID')
    expect(e.hint).not.toContain('mv ')
    const fix = /`(chmod [^`]+)`/.exec(e.hint ?? '')?.[1]
    expect(fix, e.hint).toBe(`chmod a+r ${file}`)
    expect(spawnSync('sh', ['-c', fix as string]).status).toBe(0)
    expect(read()).toEqual({ resets: [] })
  })
})
