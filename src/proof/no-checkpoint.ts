import { shellWord } from '../util/index.js'

/**
 * Who meets PROOF_NO_CHECKPOINT, which decides what its hint can ask of them (docs/proofs.md,
 * "When there is no checkpoint"): only a signatory's key signs a checkpoint, so a reader is told
 * where to get one instead.
 *
 * - `signatory`: the directory's keystore (or the running node) holds `key`, active at the tip;
 *   `isDefault`: it signs without `--key`; `finalFrom`: the tip from which it signs final
 *   checkpoints, when the tip is below it and the key was added after the genesis (a key signs no
 *   tree older than itself: docs/proofs.md, "Which signatories vouch for a checkpoint").
 * - `follower`: a node without an active key runs on the directory: it asks its peers for their
 *   checkpoints when it connects and once caught up, and keeps those gossiped; `petal pull` cannot run beside it.
 * - `reader`: no active key and no node: a pulled mirror, an archive. `pullFrom`: the address of the
 *   peer it last met (peers.json) or of a bootstrap peer, when there is one; `sentUpTo`: the highest
 *   block the checkpoints that peer sent this directory covered (CheckpointTable.sentUpTo), when it
 *   sent any (none covers the block asked for, so it may be no signatory's node: a signatory's node
 *   signs every tip it reaches);
 *   `signs`: whether that peer is for certain a signatory's node (its status proved an active
 *   signatory's key) or not (it proved none), when it said (since session 50).
 * - `daisy`: a Daisy directory (`petal serve` of one): Daisy signs no checkpoints, so none ever
 *   covers its blocks; `dir` is the Daisy directory, which `petal adopt-daisy` continues.
 */
export type CheckpointAudience =
  | { kind: 'signatory', key: string, isDefault: boolean, finalFrom?: number }
  | { kind: 'follower' }
  | { kind: 'reader', pullFrom?: string, sentUpTo?: number, signs?: boolean }
  | { kind: 'daisy', dir: string }

/** The block a proof was asked for, and whether a final checkpoint was (PROOF_NO_CHECKPOINT's hint depends on it). */
export interface AskedBlock { height: number, final: boolean }

/** PROOF_NO_CHECKPOINT's hint for the block asked for, from whoever asks (noCheckpointHint with their audience). */
export type NoCheckpointHint = (asked: AskedBlock) => string

/** How the `daisy` audience's hint begins (the API's hint keeps it whole: api-hints.ts). */
export const DAISY_NO_CHECKPOINT = 'this is a Daisy chain, and Daisy signs no checkpoints'

/** How a reader finds a signatory's node's address when the directory knows none (no command here can). */
const findASignatory = (flags = ''): string => `ask the chain's publisher for their node's address (on their machine, the node's \`status\` command prints it after \`listening\`), then run \`petal pull\` with it${flags}`
const FIND_A_SIGNATORY = findASignatory()

/**
 * PROOF_NO_CHECKPOINT's hint for `audience` (its `petal …` commands get the user's --dir from the CLI
 * and the API), for the block `asked` when known.
 */
export function noCheckpointHint (audience: CheckpointAudience, asked?: AskedBlock): string {
  switch (audience.kind) {
    case 'signatory':
      return `your key ${audience.key.slice(0, 10)}… is a signatory's: sign the current tip's checkpoints with \`petal checkpoint --sign${audience.isDefault ? '' : ` --key ${audience.key.slice(2, 14)}`}\` (a signatory node signs them whenever its tip moves)${audience.finalFrom === undefined ? '' : `; it signs no tree older than itself, so a final checkpoint only once the tip reaches ${audience.finalFrom}: until then, leave out --final, or pull from an older signatory's node`}`
    case 'follower':
      return 'the node running on this directory keeps the signed checkpoints its peers send (it asks each peer when it connects and once it has caught up; a signatory\'s node gossips its own every 5 s): connect it to a signatory\'s node (restart it with `--bootstrap` and that node\'s address, which the `status` command prints on its machine after `listening`), and ask again once it has one (`petal checkpoint --list` shows them)'
    case 'daisy':
      // Not "pull from a signatory": no Daisy node sends a checkpoint, and a pull into Petal's
      // state of the Daisy directory would not read the Daisy chain at all.
      return `${DAISY_NO_CHECKPOINT}, so no row of it can be proven against one (\`petal verify\` checks its blocks and their seals); to prove rows, continue it as a Petal chain on the machine that holds it, with the Daisy node stopped and its signatory's key imported: \`petal adopt-daisy ${shellWord(audience.dir)} --dir NEW\` (the new chain's blocks get signed checkpoints)`
    case 'reader': {
      // Checkpoints the peer sent that reached the block asked for yet cover it no more: of a branch
      // this directory has since left (a peer's note is kept only over this directory's own tree), or
      // not final when a final one is asked for. Until session 54 the hint said "up to block N only"
      // with N at or above the block, and so "it may be no signatory's node".
      const reached = asked !== undefined && audience.sentUpTo !== undefined && audience.sentUpTo >= asked.height
      const noLonger = !reached ? '' : `, but none of them that covers block ${asked.height} is ${asked.final ? 'a final checkpoint of' : 'of'} this directory's chain now${asked.final ? '' : ' (a reorg here has left the branch they were signed on)'}`
      if (audience.pullFrom === undefined) return `only a signatory signs checkpoints, and this directory knows no peer (it met none, and chainparams.json names no bootstrap peer): pull again from a signatory's node, which sends its own: ${FIND_A_SIGNATORY}; then ask again`
      if (audience.signs === false) return `only a signatory signs checkpoints, and the peer this directory last met (${audience.pullFrom}) is no signatory's node (it holds no signing key, as its status says): pull from a signatory's node, which sends its own: ${FIND_A_SIGNATORY}`
      if (audience.signs === true) return `only a signatory signs checkpoints; the peer this directory last met (${audience.pullFrom}) is a signatory's node${audience.sentUpTo === undefined ? '' : `, and sent it checkpoints up to block ${audience.sentUpTo}${noLonger}`}: pull from it again, and it sends those of its tip: \`petal pull ${shellWord(audience.pullFrom)}\`, then ask again`
      if (reached) return `only a signatory signs checkpoints; the peer this directory last met (${audience.pullFrom}) sent it checkpoints up to block ${audience.sentUpTo ?? ''}${noLonger}: pull from it again, and it sends those of the chain it holds now: \`petal pull ${shellWord(audience.pullFrom)}\`, then ask again; or pull from a signatory's node, which sends its own: ${FIND_A_SIGNATORY}`
      if (audience.sentUpTo !== undefined) return `only a signatory signs checkpoints; the peer this directory last met (${audience.pullFrom}) sent it checkpoints up to block ${audience.sentUpTo} only, so it may be no signatory's node (one signs every tip it reaches): pull from a signatory's node, which sends its own: ${FIND_A_SIGNATORY}; or pull from that peer again once it has newer ones: \`petal pull ${shellWord(audience.pullFrom)}\``
      return `only a signatory signs checkpoints: pull again from a signatory's node, which sends its own, e.g. from the peer this directory last met: \`petal pull ${shellWord(audience.pullFrom)}\`, then ask again`
    }
  }
}

/**
 * PROOF_NO_CHECKPOINT's hint when no checkpoint of tree size `size` is stored (`petal prove
 * --consistency`, `petal checkpoint --height`): a reader asks a peer for it (`petal pull
 * --checkpoint-size`, the `checkpoints` request with that size: docs/protocol.md); a signatory's
 * node keeps those of the tips it signed at, not of every size (review54b). Others: where to look, or give a file.
 */
export function missingSizeHint (audience: CheckpointAudience, size: number): string {
  const list = '`petal checkpoint --list` shows the sizes stored here'
  if (audience.kind !== 'reader') return `${list}; or give a checkpoint file`
  const ask = `a peer that keeps a checkpoint of size ${size} sends it when asked (a signatory's node signs any final size on request, since session 55; of a size not final yet it keeps those of the tips it signed at)`
  if (audience.pullFrom === undefined) return `${list}; ${ask}: ${findASignatory(` and \`--checkpoint-size ${size}\``)}; or give a checkpoint file`
  return `${list}; ${ask}, e.g. the peer this directory last met: \`petal pull ${shellWord(audience.pullFrom)} --checkpoint-size ${size}\`, then ask again; or give a checkpoint file`
}
