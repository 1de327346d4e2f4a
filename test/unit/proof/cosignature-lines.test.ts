import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Chain } from '../../../src/chain/index.js'
import {
  addCosignature, addWitness, cosignCheckpoint, findCheckpoint, keepReceivedCheckpoint, removeWitness, servedCheckpoints, storedTipCheckpoints,
  readCheckpointNote, signatoryVkey, signTipCheckpoints, witnessKeyOf, WITNESSES_FILE, parseWitnessesFile
} from '../../../src/proof/index.js'
import { formatNote, parseNote } from '../../../src/proof/verifier/index.js'
import { toHex } from '../../../src/util/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'
import { verifyWithWitnesses } from '../../helpers/proof.js'

// docs/proofs.md "Which cosignatures a node keeps": a node keeps, serves and proves with only the
// signature lines it verified, by the chain's signatories and the witnesses its `witnesses` file
// lists; a forged line under a witness's (public) name and key ID can neither be kept nor take the
// place of the real cosignature, which until session 50 made `verify-proof --witness` refuse
// every proof the node built (COSIGNATURE_INVALID).

const alice = fixtureKey('alice')
const w1 = { name: 'witness.example/w1', key: fixtureKey('carol') }
const w2 = { name: 'witness.example/w2', key: fixtureKey('bob') }
const w3 = { name: 'witness.example/w3', key: fixtureKey('dave') }
const T = 1_700_000_000

/** `note` with the line of witness `name` made invalid (one byte of its signature flipped). */
function forge (note: string, name: string): string {
  const n = parseNote(note)
  if ('error' in n) throw new Error(n.error)
  return formatNote({
    text: n.note.text,
    signatures: n.note.signatures.map(s => {
      if (s.name !== name) return s
      const sig = s.signature.slice()
      sig[sig.length - 5] = (sig[sig.length - 5] as number) ^ 1
      return { ...s, signature: sig }
    })
  })
}

async function setUp (): Promise<{ chain: Chain, dir: string, final: string }> {
  const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 1 } })
  await extendChain(chain, alice, 2, 2)
  const notes = await signTipCheckpoints(chain, alice)
  const final = notes[1]
  if (final === undefined) throw new Error('no final checkpoint')
  return { chain, dir, final }
}

const verifyWith = async (chain: Chain, witnesses: Array<typeof w1>): Promise<{ ok: boolean, code?: string }> => await verifyWithWitnesses(chain, alice, witnesses)

describe('cosignature lines a node keeps', () => {
  it('a forged line of a listed witness is not kept and does not replace the real cosignature; proofs keep verifying with --witness', async () => {
    const { chain, dir, final } = await setUp()
    writeFileSync(join(dir, WITNESSES_FILE), `# the witnesses this node trusts\n${await witnessKeyOf(w1)}\n`)
    const cosigned = addCosignature(final, w1, T)
    expect(await keepReceivedCheckpoint(chain, cosigned, 'honest')).toBe(true)
    expect(await verifyWith(chain, [w1])).toEqual({ ok: true, code: undefined })
    // A hostile peer sends the same checkpoint with the witness's line forged, later than the real one.
    expect(await keepReceivedCheckpoint(chain, forge(cosigned, w1.name), 'hostile')).toBe(false)
    expect(chain.index.checkpoints.list().filter(r => r.source === 'peer hostile')).toEqual([])
    expect(await verifyWith(chain, [w1])).toEqual({ ok: true, code: undefined })
    // Before the real one, too: nothing of the forgery stays, and the real one is kept after it.
    const { chain: c2, dir: d2, final: f2 } = await setUp()
    writeFileSync(join(d2, WITNESSES_FILE), await witnessKeyOf(w1))
    expect(await keepReceivedCheckpoint(c2, forge(addCosignature(f2, w1, T), w1.name), 'hostile')).toBe(false)
    expect(await verifyWith(c2, [w1])).toMatchObject({ ok: false, code: 'WITNESS_MISSING' })
    expect(await keepReceivedCheckpoint(c2, addCosignature(f2, w1, T), 'honest')).toBe(true)
    expect(await verifyWith(c2, [w1])).toEqual({ ok: true, code: undefined })
    chain.close()
    c2.close()
  })

  it('keeps the union of verified lines per checkpoint; drops lines of unlisted witnesses and junk, storing nothing for them', async () => {
    const { chain, dir, final } = await setUp()
    writeFileSync(join(dir, WITNESSES_FILE), await witnessKeyOf(w1))
    const before = chain.index.checkpoints.list().length
    // w2 is not listed, and junk is nobody's: nothing new to keep.
    expect(await keepReceivedCheckpoint(chain, addCosignature(final, w2, T), 'p')).toBe(false)
    expect(await keepReceivedCheckpoint(chain, final + '— x AAAAAAA=\n', 'p')).toBe(false)
    expect(chain.index.checkpoints.list().length).toBe(before)
    expect(await keepReceivedCheckpoint(chain, addCosignature(final, w1, T), 'p')).toBe(true)
    // Once listed, w2's line joins w1's in one note; a proof needs both and gets both.
    writeFileSync(join(dir, WITNESSES_FILE), `${await witnessKeyOf(w1)}\n${await witnessKeyOf(w2)}\n`)
    expect(await keepReceivedCheckpoint(chain, addCosignature(final, w2, T), 'q')).toBe(true)
    expect(await verifyWith(chain, [w1, w2])).toEqual({ ok: true, code: undefined })
    const served = servedCheckpoints(chain, chain.tip().height + 1)
    expect(served.some(n => n.includes(`— ${w1.name} `) && n.includes(`— ${w2.name} `))).toBe(true)
    // Struck from the file, a witness is vouched for no more: its line leaves the proofs.
    writeFileSync(join(dir, WITNESSES_FILE), await witnessKeyOf(w1))
    expect(findCheckpoint(chain, { final: true })?.note.includes(`— ${w2.name} `)).toBe(false)
    chain.close()
  })

  it('a note kept before session 50 with a forged line is served and proven without it', async () => {
    const { chain, dir, final } = await setUp()
    writeFileSync(join(dir, WITNESSES_FILE), await witnessKeyOf(w1))
    const poisoned = forge(addCosignature(addCosignature(final, w2, T), w1, T), w1.name)
    const { checkpoint: c0 } = readCheckpointNote(final)
    await chain.index.withWriteLock(async () => {
      chain.index.checkpoints.insert({ size: c0.size, root: toHex(c0.root), tip: c0.tip, note: poisoned, receivedAt: 0, source: 'peer old' })
    })
    const c = findCheckpoint(chain, { final: true })
    expect(c?.source).toBe('peer old')
    expect(c?.note).toBe(final)
    expect(await verifyWith(chain, [])).toEqual({ ok: true, code: undefined })
    chain.close()
  })

  // A note may hold 100 lines (MAX_NOTE_SIGNATURES). A stored one full of struck witnesses' lines
  // (kept since aa8ade8b) took the witness's cosignature as a 101st: the stored note then parsed for
  // no reader, and findCheckpoint (every proof of the chain) threw (review55).
  it('a witness cosigning a checkpoint whose stored note is full of struck witnesses\' lines stores a note every reader parses', async () => {
    const { chain, final } = await setUp()
    const n = parseNote(final)
    if ('error' in n) throw new Error(n.error)
    const own = n.note.signatures[0]
    if (own === undefined) throw new Error('no signatory line')
    const struck = Array.from({ length: 99 }, (_, i) => ({ name: `struck.example/w${i}`, keyId: (own.keyId + i + 1) >>> 0, signature: own.signature }))
    const full = formatNote({ text: n.note.text, signatures: [own, ...struck] })
    const { checkpoint: c0 } = readCheckpointNote(final)
    await chain.index.withWriteLock(async () => {
      chain.index.checkpoints.insert({ size: c0.size, root: toHex(c0.root), tip: c0.tip, note: full, receivedAt: 0, source: 'peer old' })
    })
    expect(await cosignCheckpoint(chain, final, w1)).toBeDefined()
    for (const r of chain.index.checkpoints.list({ limit: 10 })) expect(() => readCheckpointNote(r.note)).not.toThrow()
    expect(findCheckpoint(chain, { final: true })?.note).toContain(`— ${w1.name} `)
    chain.close()
  })

  it('a witness cosigns only the lines it verified, and its own lines count on its directory without listing it', async () => {
    const { chain, dir, final } = await setUp()
    writeFileSync(join(dir, WITNESSES_FILE), await witnessKeyOf(w2))
    const cosigned = await cosignCheckpoint(chain, forge(addCosignature(final, w2, T), w2.name), w1)
    expect(cosigned).toBeDefined()
    expect(cosigned).not.toContain(`— ${w2.name} `)
    expect(findCheckpoint(chain, { final: true })?.note).toBe(cosigned)
    expect(await verifyWith(chain, [w1])).toEqual({ ok: true, code: undefined })
    chain.close()
  })

  it('one row a checkpoint text: each cosignature that reaches it replaces the row with the union, which keeps every line of the rows an older Petal left', async () => {
    const { chain, dir, final } = await setUp()
    const listed = (await Promise.all([w1, w2, w3].map(async w => await witnessKeyOf(w)))).join('\n')
    writeFileSync(join(dir, WITNESSES_FILE), listed)
    const { note: n } = readCheckpointNote(final)
    const rowsOf = (): Array<{ note: string, source: string }> => chain.index.checkpoints.list({ limit: 1000 }).filter(r => r.note.startsWith(n.text + '\n'))
    expect(rowsOf().map(r => r.source)).toEqual(['self'])
    // The lines arrive one by one, from several peers and a witness's own cosignature (until
    // session 52 each merged version was a row of its own: four rows here, and as many per text as
    // lines reached it, on every checkpoint of a long-running node).
    expect(await keepReceivedCheckpoint(chain, addCosignature(final, w1, T), 'p')).toBe(true)
    expect(await keepReceivedCheckpoint(chain, addCosignature(final, w2, T), 'q')).toBe(true)
    expect(await cosignCheckpoint(chain, final, w3)).toBeDefined()
    expect(await keepReceivedCheckpoint(chain, addCosignature(final, w1, T), 'r')).toBe(false)
    const rows = rowsOf()
    expect(rows.map(r => r.source)).toEqual(['self'])
    for (const w of [w1, w2, w3]) expect(rows[0]?.note).toContain(`— ${w.name} `)
    expect(await verifyWith(chain, [w1, w2, w3])).toEqual({ ok: true, code: undefined })
    // A directory written by an older Petal holds versions with lines of their own (w1's only in
    // the older one): a new line keeps them all, in one row.
    const { chain: c2, dir: d2, final: f2 } = await setUp()
    const { note: n2, checkpoint: k2 } = readCheckpointNote(f2)
    writeFileSync(join(d2, WITNESSES_FILE), listed)
    await c2.index.withWriteLock(async () => {
      for (const [note, source] of [[addCosignature(f2, w1, T), 'peer a'], [addCosignature(f2, w2, T), 'peer b']]) c2.index.checkpoints.insert({ size: k2.size, root: toHex(k2.root), tip: k2.tip, note: note as string, receivedAt: 0, source: source as string })
    })
    expect(await keepReceivedCheckpoint(c2, addCosignature(f2, w3, T), 'c')).toBe(true)
    expect(c2.index.checkpoints.ofText(k2.size, n2.text).map(r => r.source)).toEqual(['self'])
    const served = findCheckpoint(c2, { final: true })?.note ?? ''
    for (const w of [w1, w2, w3]) expect(served).toContain(`— ${w.name} `)
    chain.close()
    c2.close()
  })

  it('a witnesses file line that is no witness verifier key is refused, naming the line', async () => {
    const signatory = await signatoryVkey('00'.repeat(32), alice)
    const good = await witnessKeyOf(w1)
    expect(() => parseWitnessesFile(`${good}\n\n${signatory}\n`, 'D/witnesses')).toThrow(/D\/witnesses line 3: not a witness's verifier key/)
    const wrongId = good.replace(/\+[0-9a-f]{8}\+/, '+00000000+')
    expect(() => parseWitnessesFile(wrongId, 'W')).toThrow(/W line 1: the key ID 00000000 does not match the key/)
    expect(parseWitnessesFile(`${good}  # w1\n${good}\n`, 'W').map(w => w.name)).toEqual([w1.name])
  })
})

// docs/proofs.md, "Which cosignatures a node keeps": a witness struck from `witnesses` is vouched
// for no more (no proof, answer or gossip carries its line), and its stored lines stay, so that it
// counts again once listed again. Until session 54 they were dropped whenever another line of the
// same checkpoint merged (a peer's cosignature, a witness's own), and kept otherwise.
describe('a witness struck from the witnesses file', () => {
  for (const merge of ['another witness\'s cosignature from a peer', 'this node\'s own cosignature as a witness'] as const) {
    it(`leaves proofs, answers and gossip, and counts again when listed again, though ${merge} merged meanwhile`, async () => {
      const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 1 } })
      await extendChain(chain, alice, 2, 2)
      const final = (await signTipCheckpoints(chain, alice))[1] as string
      for (const w of [w1, w2]) expect(typeof await addWitness(dir, await witnessKeyOf(w))).toBe('object')
      expect(await keepReceivedCheckpoint(chain, addCosignature(final, w1, T), 'p')).toBe(true)
      expect(await verifyWith(chain, [w1])).toEqual({ ok: true, code: undefined })
      expect((await removeWitness(dir, w1.name)).map(w => w.name)).toEqual([w1.name])
      const without = (n: string | undefined): boolean => n !== undefined && !n.includes(`— ${w1.name} `)
      expect(without(findCheckpoint(chain, { final: true })?.note)).toBe(true)
      expect(servedCheckpoints(chain, chain.tip().height + 1).every(without)).toBe(true)
      expect(storedTipCheckpoints(chain, alice).every(without), 'the signatory\'s regossip').toBe(true)
      expect(await verifyWith(chain, [w1])).toMatchObject({ ok: false, code: 'WITNESS_MISSING' })
      // Another line of the same checkpoint reaches this node.
      if (merge === 'another witness\'s cosignature from a peer') expect(await keepReceivedCheckpoint(chain, addCosignature(final, w2, T), 'q')).toBe(true)
      else expect(await cosignCheckpoint(chain, final, w3)).toSatisfy(without)
      expect(without(findCheckpoint(chain, { final: true })?.note)).toBe(true)
      expect(storedTipCheckpoints(chain, alice).every(without)).toBe(true)
      // Listed again (its operator struck it by mistake): its cosignature counts again.
      expect(typeof await addWitness(dir, await witnessKeyOf(w1))).toBe('object')
      expect(findCheckpoint(chain, { final: true })?.note).toContain(`— ${w1.name} `)
      expect(await verifyWith(chain, merge === 'another witness\'s cosignature from a peer' ? [w1, w2] : [w1, w3])).toEqual({ ok: true, code: undefined })
      chain.close()
    })
  }
})
