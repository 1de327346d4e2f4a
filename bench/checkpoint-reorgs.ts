// Checkpoint rows of a signatory's node that reorgs again and again (docs/performance/reviews.md,
// "Session 53: checkpoints across reorgs (checkpoint53)"): each round the node seals DEPTH blocks,
// signing at each tip, and takes a rival branch of DEPTH + 1 (a reorg of DEPTH). Prints, every
// STEP rounds, the rows kept, those of an abandoned branch's root, and the side blocks kept (the
// chain prunes those below tip − max_reorg_depth) as the reference in the same run.
//   node --import tsx bench/checkpoint-reorgs.ts [ROUNDS=40] [DEPTH=2] [STEP=10]
import { fixtureKey, newTestChain } from '../test/helpers/chain.js'
import { checkpointRows, reorgRounds } from '../test/helpers/reorg-rounds.js'

const [rounds = 40, depth = 2, step = 10] = process.argv.slice(2).map(Number)
const alice = fixtureKey('alice')
const made = await newTestChain({ key: alice, consensus: { maxReorgDepth: depth } })
let chain = made.chain
for (let done = 0; done < rounds; done += step) {
  chain = await reorgRounds(chain, made.dir, alice, step, depth)
  const r = checkpointRows(chain)
  console.log(`after ${done + step} reorgs (tip ${chain.tip().height}): ${r.all} checkpoint rows, ${r.abandoned} of an abandoned branch (${r.abandonedFinal} claiming final); side blocks kept ${r.side}`)
}
chain.close()
