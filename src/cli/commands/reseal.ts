import type { Command } from 'commander'
import { ChainError, contentIsBack, listOrphans, orphanEntryJson, originOf, resealOrphan, type Chain, type ImportResult, type OrphanEntry, type ResealLedger } from '../../chain/index.js'
import { Ingest, IngestError, ResealRecord } from '../../ingest/index.js'
import { refuseBesidePull } from '../../node/state-file.js'
import { pausepoint, shellWord } from '../../util/index.js'
import { openChain } from '../hashing.js'
import { localOrphanJudging, signingKeys } from '../orphan-judging.js'
import { syncMirrorAfterImport } from '../mirror-sync.js'
import { short, table, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { addWaitOption, lockOptions } from '../write-lock.js'

/**
 * Under --force, the orphan's content came back (another re-seal) or went again (a reorg orphaned
 * the copy that had brought it back) between the first look and the acceptance: the block is built
 * again for what holds now, marked and recorded or a publication of its own.
 */
class Moved extends Error {}

/** Where `petal reseal`'s hints send a user who needs an orphan's hash. */
export const ORPHANS_HINT = '`petal orphans` lists your orphaned blocks and which of them await a re-seal; a running node re-seals its own by itself'

export function register (program: Command, action: Action): void {
  addWaitOption(program.command('reseal <hash>')).description('re-seal the content of one of your orphaned blocks on the current tip (`petal orphans` lists them)')
    .option('--force', 'seal its content again even when it is already on the canonical chain')
    .action(action(async (ctx, hash: string, o: { wait?: number, force?: boolean }) => {
      refuseBesidePull(ctx.dir, `petal reseal ${shellWord(hash)}`)
      const chain = openChain(ctx)
      const b = chain.get(hash)
      let r: ImportResult
      if (b === undefined) throw new UsageError(`no block ${hash}`, `give the hash (or its first 8+ hex digits) of one of your orphaned blocks: ${ORPHANS_HINT}`)
      // Rows of a block the ingest service sealed are re-queued by it; re-sealing the block too
      // would put them on the chain twice. pending.db also holds the record of re-seals (written here).
      // A canonical block is NOT_ORPHANED first, whoever sealed it (resealOrphan's answer): an ingest
      // block's INGEST_BLOCK_OWNED sent the user to `petal seal` for rows that were not lost (reseal49).
      if (b.canonical) throw new ChainError('NOT_ORPHANED', `block ${short(b.hash)} is on the canonical chain`)
      const ingest = Ingest.open({ chain })
      try {
        if (ingest.ownsBlock(b.hash)) {
          throw new IngestError('INGEST_BLOCK_OWNED', `block ${short(b.hash)} holds records sealed by the ingest service, which re-seals them itself after a reorg`, {
            hint: 'run `petal seal` (or keep a node running) to re-seal its rows; `petal receipt ID` shows where each row is', details: { hash: b.hash }
          })
        }
        const key = ctx.loadKey()
        const record = new ResealRecord(ingest.store)
        // A node re-seals its orphans itself, and a reorg back brings an orphan's own block back: a
        // re-seal by hand after either put its rows on the chain twice. The node's own rule decides
        // (pendingOrphans, with the record); an orphan below the pruning depth only by its origin and marked or recorded copies.
        // Judged here (no build for a refusal), and again under the write lock, where the re-seal reads
        // its tip: a re-seal (by hand, or a node's) that held the lock while this one waited for it
        // found the orphan still pending at the first look, and sealed its rows twice (review47).
        const judge = contentBackJudge(chain, b.hash, key.id, record)
        // (One canonical again under the lock is back.)
        const backAtFirst = judge.back()
        if (backAtFirst && o.force !== true) throw judge.refusal()
        // Recorded as the orphan's copy before it commits, and marked as one in its Description.
        // --force on content already back seals it again on purpose, a publication of its own that
        // stands for nothing; on content not back it is the re-seal itself, recorded and marked
        // (review48: unrecorded, the node's pass re-sealed the orphan again, its rows twice).
        // A block built as the copy (marked) whose content came back meanwhile (another re-seal held
        // the lock) is built again unmarked under --force: accepted marked, two marked copies of one
        // origin were both canonical, which the rule takes for impossible (review50).
        // And the other way (review51): one built unmarked because the content was back, whose copy
        // a reorg orphaned meanwhile, was accepted unrecorded, and the node's pass re-sealed the
        // orphan as well: its rows twice. It is built again as the copy, marked and recorded.
        // As often as the chain moves under it (each time another writer's reorg or re-seal between
        // two of its turns at the lock): a third turn was accepted whatever held (review51b: a marked
        // copy beside another canonical one, or an unmarked, unrecorded re-seal of content not back).
        const reseal = async (origin: string | false): Promise<ImportResult> => await resealOrphan(chain, b.hash, key, {
          ...lockOptions(ctx, o.wait),
          origin,
          beforeAccept: async x => {
            const back = judge.back()
            if (back && o.force !== true) throw judge.refusal()
            if (back === (origin !== false)) throw new Moved()
            if (origin !== false) await record.record(x.hash, b.hash, origin, ctx.signal)
          }
        })
        let origin = backAtFirst ? false : originOf(chain, b, record)
        for (;;) {
          try {
            r = await reseal(origin)
            break
          } catch (err) {
            if (!(err instanceof Moved)) throw err
            origin = origin === false ? originOf(chain, b, record) : false
            // Tests hold it here, between two turns, to move the chain once more.
            await pausepoint('reseal:moved', ctx.signal)
          }
        }
      } finally {
        await ingest.close()
      }
      ctx.out.result({ orphan: b.hash, height: r.block.height, hash: r.block.hash }, () => `re-sealed ${short(b.hash)} as block ${r.block.height} ${r.block.hash}`)
      // After the result: the block is committed whatever becomes of the mirror's update.
      await syncMirrorAfterImport(ctx, chain)
    }))

  program.command('orphans').description('list your side-branch blocks (orphaned by a reorg) and where their content is: back on the canonical chain, awaiting a re-seal, or not re-sealable and why')
    .option('--all', 'every signer\'s side-branch blocks, not only those of this data directory\'s keys')
    .action(action(async (ctx, o: { all?: boolean }) => {
      const chain = openChain(ctx, { forReading: true })
      const own = new Set(signingKeys(ctx))
      const list = listOrphans(chain, { ...localOrphanJudging(ctx, chain, own), signers: o.all === true ? undefined : own })
      const tip = chain.tip()
      ctx.out.result({ tip: { height: tip.height, hash: tip.hash }, orphans: list.map(orphanEntryJson) }, () => list.length === 0
        ? (o.all === true ? 'no side-branch blocks' : own.size === 0 ? 'no signing key in this data directory\'s keystore (`petal orphans --all` lists every signer\'s side-branch blocks)' : 'none of your blocks is on a side branch')
        : table([['HEIGHT', 'HASH', 'SIGNER', 'ORIGIN', 'TABLES', 'ROWS', 'STATE'], ...list.map(e => [String(e.block.height), short(e.block.hash), short(e.block.signer), e.origin === undefined ? '-' : short(e.origin), tablesText(e), String(e.rows), stateText(e)])]))
      if (list.some(e => e.state === 'pending')) ctx.out.note('a running signatory node re-seals the orphans awaiting a re-seal by itself; `petal reseal HASH` re-seals one now')
    }))
}

function tablesText (e: OrphanEntry): string {
  if (e.tables.length === 0) return e.block.keyOpCount > 0 ? `(${e.block.keyOpCount} key op${e.block.keyOpCount === 1 ? '' : 's'})` : '-'
  const names = e.tables.map(t => t.name)
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} +${names.length - 3}`
}

function stateText (e: OrphanEntry): string {
  const at = e.copy === undefined ? '' : `block ${e.copy.height} ${short(e.copy.hash)}`
  switch (e.state) {
    case 'back':
      return e.by === 'origin' ? `back: its first publication, ${at}, is canonical`
        : e.by === 'rows-root' ? `back: ${at} holds its rows (by rows root)`
          : `back: re-sealed as ${at} (${e.by === 'marked-copy' ? 'marked on the chain' : 'this node\'s record'})`
    case 'pending': return 'awaiting re-seal'
    case 'unjudged': return 'deeper than max_reorg_depth: not re-sealed by the node'
    default:
      return e.reason === 'ingest-rows' ? 'its rows are the ingest service\'s: re-sealed row by row'
        : e.reason === 'signer-not-active' ? 'not re-sealable: its signer is not an active signatory at the tip'
          : 'not re-sealable: no tables, and its key operations no longer apply'
  }
}

/**
 * Whether an orphan's content is already on the canonical chain (`back`, the node's own rule:
 * contentIsBack), asked at the chain's state of the moment, once before the re-seal and once under
 * its write lock; and `petal reseal`'s refusal then (ORPHAN_CONTENT_BACK).
 */
function contentBackJudge (chain: Chain, hash: string, keyId: string, record: ResealLedger): { back: () => boolean, refusal: () => ChainError } {
  return {
    back: () => contentIsBack(chain, hash, keyId, record),
    refusal: () => new ChainError('ORPHAN_CONTENT_BACK', `block ${short(hash)}'s content is already on the canonical chain, or it carries nothing the chain lacks: a re-seal would seal its rows twice`, {
      hint: `nothing is lost, so nothing needs doing (\`petal orphans\` says where it is); \`petal reseal ${shellWord(hash)} --force\` seals its content again anyway`, details: { hash }
    })
  }
}
