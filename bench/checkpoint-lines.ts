// What checking a checkpoint's lines costs a proof (docs/performance/reviews.md, "Session 50:
// witness cosignature lines"): since session 50 findCheckpoint keeps only the lines the node
// verifies (src/proof/note-lines.ts) — a signatory's and a listed witness's here. Prints the time a
// findCheckpoint takes beside the same look-up without the check (what it was before: the stored
// note as it is), in the same run, warm (each line's verdict remembered) and cold (verified anew);
// and what gossip's judge of a note costs since session 51.
//   node --import tsx bench/checkpoint-lines.ts
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { addCosignature, findCheckpoint, keepReceivedCheckpoint, readCheckpointNote, signTipCheckpoints, storedChainTree, treeRoot, witnessKeyOf, WITNESSES_FILE } from '../src/proof/index.js'
import { equalBytes } from '../src/util/index.js'
import { extendChain, fixtureKey, newTestChain } from '../test/helpers/chain.js'

const alice = fixtureKey('alice')
const witness = { name: 'witness.example/w1', key: fixtureKey('carol') }
const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 1 } })
await extendChain(chain, alice, 8, 2)
const [, final] = await signTipCheckpoints(chain, alice)
if (final === undefined) throw new Error('no final checkpoint')
writeFileSync(join(dir, WITNESSES_FILE), await witnessKeyOf(witness))
await keepReceivedCheckpoint(chain, addCosignature(final, witness, 1_700_000_000), 'p')

/** The look-up as it was before session 50: the latest stored note of the current tree, unchecked. */
function unchecked (): string | undefined {
  const tree = storedChainTree(chain)
  return chain.index.readTransaction(() => {
    for (const r of chain.index.checkpoints.list({ minSize: 1, maxSize: tree.size, limit: 50 })) {
      const { checkpoint } = readCheckpointNote(r.note)
      if (checkpoint.final && equalBytes(treeRoot(tree, r.size), checkpoint.root)) return r.note
    }
    return undefined
  })
}
const perCall = (f: () => unknown, n: number): number => {
  const t = process.hrtime.bigint()
  for (let k = 0; k < n; k++) f()
  return Number(process.hrtime.bigint() - t) / 1e3 / n
}
if (findCheckpoint(chain, { final: true })?.note !== unchecked()) throw new Error('the two look-ups disagree')
for (let round = 0; round < 3; round++) {
  const warm = perCall(() => findCheckpoint(chain, { final: true }), 2000)
  const ref = perCall(unchecked, 2000)
  console.log(`round ${round + 1}: findCheckpoint ${warm.toFixed(1)} µs (warm: verdicts remembered); reference: the same look-up unchecked ${ref.toFixed(1)} µs; ${(warm / ref).toFixed(2)}×`)
}
// Cold: a note of new text each time (another tip line), so every line is verified.
const cold: string[] = []
for (let k = 0; k < 200; k++) {
  const { note } = readCheckpointNote(final)
  cold.push(note.text.replace(/tip (\d+)/, (_, t: string) => `tip ${Number(t) + 1 + k}`))
}
const { signCheckpoint } = await import('../src/proof/index.js')
const notes = cold.map(text => addCosignature(signCheckpoint(text, [alice]), witness, 1_700_000_000))
const { verifiedNote } = await import('../src/proof/note-lines.js')
let i = 0
const first = perCall(() => verifiedNote(chain, notes[i++] as string), notes.length)
console.log(`cold: checking a note's 2 lines (a signatory's, a witness's) the first time: ${first.toFixed(1)} µs`)
// Gossip's judge of a note (docs/performance/reviews.md, "Session 51: the witnesses file's CLI
// (witness51)"): since session 51 a note is accepted for forwarding only when the node verified
// every line (judgeGossipedCheckpoint); the reference is judgeCheckpoint alone, the judge until
// then. Hostile variants: new texts each time, the witness's line and a junk line.
const { judgeCheckpoint, judgeGossipedCheckpoint } = await import('../src/proof/index.js')
const variants = (n: number, from: number): string[] => Array.from({ length: n }, (_, k) => {
  const text = readCheckpointNote(final).note.text.replace(/tip (\d+)/, (_, t: string) => `tip ${Number(t) + 1000 + from + k}`)
  return addCosignature(signCheckpoint(text, [alice]), witness, 1_700_000_000) + '— junk.example/x AAAAAAA=\n'
})
for (let round = 0; round < 2; round++) {
  const a = variants(100, round * 200)
  const b = variants(100, round * 200 + 100)
  let j = 0
  const before = perCall(() => judgeCheckpoint(chain, a[j++] as string), a.length)
  j = 0
  const now = perCall(() => judgeGossipedCheckpoint(chain, b[j++] as string), b.length)
  const warmNow = perCall(() => judgeGossipedCheckpoint(chain, b[0] as string), 1000)
  console.log(`gossip judge round ${round + 1}: a new variant ${now.toFixed(1)} µs (judge and verified lines), the same variant again ${warmNow.toFixed(1)} µs; reference: judgeCheckpoint alone ${before.toFixed(1)} µs; ${(now / before).toFixed(2)}×`)
}
chain.close()
