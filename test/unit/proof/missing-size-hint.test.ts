import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { Chain, importBlock } from '../../../src/chain/index.js'
import { findCheckpoint, missingSizeHint, readCheckpointNote, servedCheckpoints, signBudget, signRequestedSize, signTipCheckpoints } from '../../../src/proof/index.js'
import { checkpointsToServe, pulledCheckpoints, type AskedCheckpoints } from '../../../src/node/checkpoint-ask.js'
import { sizeLine } from '../../../src/cli/pulled-sizes.js'
import { readSeal } from '../../../src/storage/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'

const alice = fixtureKey('alice')

// PROOF_NO_CHECKPOINT's hint for a size this directory lacks (`petal prove --consistency N`, `petal
// checkpoint --height N-1`) sends a reader to `petal pull --checkpoint-size N`, and said "a
// signatory's node keeps the final one of every size" (ca786df8). It keeps those of the tips it
// signed at: each block it sealed, not each of the blocks a catch-up placed between two of its
// signings, so a peer asked for such a size answers a smaller one, or none (review54b).
describe('the hint for a checkpoint size not stored here', () => {
  it('promises no checkpoint of every size from a signatory\'s node, which keeps those of the tips it signed at', async () => {
    const { chain: made, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 2 } })
    // A signatory's node restored from a copy at the genesis, which catches up on blocks 1…6
    // sealed meanwhile (each signed in the commit of its block where it was sealed).
    const behind = join(tmpDir(), 'behind')
    cpSync(dir, behind, { recursive: true })
    for (let h = 1; h <= 6; h++) {
      await extendChain(made, alice, 1, 2)
      await signTipCheckpoints(made, alice)
    }
    expect(findCheckpoint(made, { size: 3, final: true })).toBeDefined()
    const node = Chain.open(behind)
    try {
      for (let h = 1; h <= 6; h++) await importBlock(node, made.dir.blockPath(h), readSeal(made.dir.blockPath(h)))
      // It signs at the tip it reached (sizes 7 and 5), none of the sizes it passed.
      expect((await signTipCheckpoints(node, alice)).length).toBe(2)
      expect(findCheckpoint(node, { size: 3 })).toBeUndefined()
      expect(servedCheckpoints(node, 3)).toEqual([])
      const hint = missingSizeHint({ kind: 'reader', pullFrom: '/ip4/127.0.0.1/tcp/2017/p2p/12D3KooWExample' }, 3)
      expect(hint).not.toMatch(/every size/)
      expect(hint).toContain('petal pull /ip4/127.0.0.1/tcp/2017/p2p/12D3KooWExample --checkpoint-size 3')
      // Since session 55 it signs a final size on request (docs/proofs.md, "A size signed on
      // request"), once: a peer asking for size 3 gets size 3, and the next asker the stored note.
      const served = (await checkpointsToServe(node, 3, alice)).notes
      expect(served.map(n => readCheckpointNote(n).checkpoint.size)).toEqual([3])
      expect(readCheckpointNote(served[0] ?? '').checkpoint.final).toBe(true)
      const rows = node.index.checkpoints.list().length
      expect(await checkpointsToServe(node, 3, alice)).toEqual({ notes: served })
      expect(node.index.checkpoints.list()).toHaveLength(rows)
      // Not a size that is not final at its tip (6: final sizes end at 5 with max_reorg_depth 2),
      // nor with a key that is no signatory, nor beyond its budget of signatures a minute.
      // Since session 57 the answer says why, as a code the asker's pull turns into what to do.
      const six = await checkpointsToServe(node, 6, alice)
      expect(six.notes.map(n => readCheckpointNote(n).checkpoint.size)).toEqual([5])
      expect(six).toMatchObject({ unsignedCode: 'not-final', unsigned: 'size 6 not signed: not final at this node\'s tip #6 (final once it reaches #7)' })
      expect(await checkpointsToServe(node, 2, fixtureKey('bob'))).toMatchObject({ notes: [], unsignedCode: 'not-vouched' })
      expect(await checkpointsToServe(node, 2)).toMatchObject({ notes: [], unsignedCode: 'not-signatory' })
      const budget = signBudget({ burst: 1, perMinute: 0 })
      expect(await signRequestedSize(node, alice, 2, budget)).toBe('signed')
      expect(await signRequestedSize(node, alice, 2, budget)).toBe('kept')
      expect(await signRequestedSize(node, alice, 1, budget)).toBe('budget')
      expect(await signRequestedSize(node, alice, 8, budget)).toBe('tree')
      expect(findCheckpoint(node, { size: 1 })).toBeUndefined()
      // What `petal pull --checkpoint-size` says of each size, judged here.
      expect(pulledCheckpoints(node, [], [3, 6, 9, 4]).sizes).toEqual([
        { size: 3, got: true },
        { size: 6, got: false, below: 5, why: 'not-final', finalAt: 7 },
        { size: 9, got: false, below: 7, why: 'tree' },
        { size: 4, got: false, below: 3, why: 'not-sent' }
      ])
      // A peer's reason for not signing a size, read by the pull and said with what to do
      // (session 57: the reply carried it since session 56, and the pull said only `not-sent`).
      const peer = { peer: '12D3KooWPeer', received: 1, kept: 0, accepted: 1 }
      const asked = (code: string, reason: string): AskedCheckpoints[] => [{ ...peer, unsigned: [{ size: 4, code, reason }] }]
      const four = pulledCheckpoints(node, asked('budget', 'size 4 not signed: …'), [4]).sizes?.[0]
      expect(four).toEqual({ size: 4, got: false, below: 3, why: 'not-sent', unsigned: [{ peer: peer.peer, code: 'budget', reason: 'size 4 not signed: …' }] })
      const addr = '/ip4/127.0.0.1/tcp/2017/p2p/12D3KooWPeer'
      const line = (code: string, reason = 'x'): string => sizeLine(pulledCheckpoints(node, asked(code, reason), [4]).sizes?.[0] ?? { size: 4, got: true }, addr, 6, undefined)
      const again = `\`petal pull ${addr} --checkpoint-size 4\``
      expect(line('budget')).toContain(`at most 30 notes a minute for its peers, and they were spent; pull again in a minute (${again})`)
      expect(line('busy')).toContain(`its index was busy; pull again (${again})`)
      expect(line('not-final')).toContain(`size 4 is not final at its tip yet (that node is behind); pull again once it has caught up (${again})`)
      expect(line('tree')).toContain('its chain is shorter than 4 blocks (that node is behind)')
      expect(line('not-vouched')).toContain('added above height 3); pull from the node of a signatory added at or below height 3 (`petal signers` lists')
      expect(line('not-signatory')).toContain('it holds no signatory\'s key, and passes on only the notes it keeps; pull from a signatory\'s node: `petal pull MULTIADDR --checkpoint-size 4`')
      expect(line('disk', 'size 4 not signed: this node could not keep it (SQLITE_FULL)')).toContain('it could not keep the note (SQLITE_FULL), which its operator must mend')
      // A code this Petal does not know: the peer's words, without a terminal's escapes.
      expect(line('later', 'new \u001b[31mreason')).toContain('did not sign it: "new ?[31mreason"')
      for (const code of ['budget', 'busy', 'not-final', 'tree', 'not-vouched', 'not-signatory', 'disk']) expect(line(code)).not.toContain('no peer sent it')
      // The disk refusing the signed note's keeping (review56: swallowed, silent): logged once
      // with its code while it fails, the peer told why, and the node answers what it keeps.
      const warn = vi.spyOn(node.logger, 'warn')
      const keep = vi.spyOn(node.index.checkpoints, 'keep').mockImplementation(() => { throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }) })
      for (let i = 0; i < 2; i++) {
        const a = await checkpointsToServe(node, 4, alice)
        expect(a.notes.map(n => readCheckpointNote(n).checkpoint.size)).toEqual([3])
        expect(a.unsigned).toBe('size 4 not signed: this node could not keep it (SQLITE_FULL)')
        expect(a.unsignedCode).toBe('disk')
      }
      expect(warn).toHaveBeenCalledTimes(1)
      expect(warn.mock.calls[0]?.[1]).toMatchObject({ size: 4, code: 'SQLITE_FULL' })
      keep.mockRestore()
      expect((await checkpointsToServe(node, 4, alice)).notes.map(n => readCheckpointNote(n).checkpoint.size)).toEqual([4])
    } finally {
      node.close()
      made.close()
    }
  })
})
