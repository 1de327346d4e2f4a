import type { SizeAsked } from '../node/index.js'
import { hintWithDir } from '../util/index.js'

/**
 * What became of one `--checkpoint-size N`: kept here, or why not and the command to run next
 * (docs/proofs.md, "A size signed on request"). It came back with a smaller size, or none, and
 * said nothing of it (session 54); a signatory's node said why it did not sign (session 56) and no
 * Petal read it, so a pull said "no peer sent it" whatever the reason (session 57: each peer's
 * reason, with what to do about it).
 */
export function sizeLine (z: SizeAsked, addr: string, tip: number, dir: string | undefined): string {
  const of = `checkpoint of size ${z.size} (heights 0…${z.size - 1})`
  if (z.got) return hintWithDir(`${of}: kept here (\`petal checkpoint --height ${z.size - 1}\` prints it)`, dir)
  const below = z.below === undefined ? 'none is kept below it' : `the largest kept below it is size ${z.below}`
  const again = `\`petal pull ${addr} --checkpoint-size ${z.size}\``
  const elsewhere = `\`petal pull MULTIADDR --checkpoint-size ${z.size}\` (its address after \`listening\` in \`petal status\` on their node)`
  const why = z.why === 'tree'
    ? `the chain has ${tip + 1} blocks, so no tree of that size yet; pull again once it has ${z.size} (${again})`
    : z.why === 'not-final'
      ? `not final at the tip (#${tip}) yet, and a signatory signs a size on request only once it is final: pull again once the tip reaches #${z.finalAt ?? '?'} (${again})`
      : z.unsigned !== undefined
        ? z.unsigned.map(u => peerReason(u, z.size, again, elsewhere)).join('; ')
        : `no peer sent it: a signatory's node (Petal of session 55 or later) signs any final size on request, up to a budget a minute; a follower passes on only what it kept, and an older signatory's node only the sizes of the tips it signed at. Pull from a signatory's node: ${elsewhere}, or this one again in a minute`
  return hintWithDir(`${of}: not got (${below}): ${why}`, dir)
}

/** One peer's reason for not signing `size` (its `unsignedCode`), and what to do about it. */
function peerReason (u: { peer: string, code?: string, reason: string }, size: number, again: string, elsewhere: string): string {
  const p = `peer ${u.peer}`
  switch (u.code) {
    case 'busy': return `${p} did not sign it: its index was busy; pull again (${again})`
    case 'budget': return `${p} did not sign it: it signs at most 30 notes a minute for its peers, and they were spent; pull again in a minute (${again})`
    case 'not-final': return `${p} did not sign it: size ${size} is not final at its tip yet (that node is behind); pull again once it has caught up (${again}), or from another signatory's node: ${elsewhere}`
    case 'tree': return `${p} did not sign it: its chain is shorter than ${size} blocks (that node is behind); pull again once it has caught up (${again}), or from another signatory's node: ${elsewhere}`
    case 'not-vouched': return `${p} did not sign it: its key does not vouch for size ${size} (not an active signatory at its tip, or added above height ${size - 1}); pull from the node of a signatory added at or below height ${size - 1} (\`petal signers\` lists each key with the height that added it): ${elsewhere}`
    case 'not-signatory': return `${p} did not sign it: it holds no signatory's key, and passes on only the notes it keeps; pull from a signatory's node: ${elsewhere}`
    case 'disk': return `${p} did not sign it: it could not keep the note (${printable(u.reason).replace(/^.*\(([^()]*)\)$/, '$1')}), which its operator must mend (free space, check the disk); pull from another signatory's node: ${elsewhere}, or this one again once mended`
    default: return `${p} did not sign it: "${printable(u.reason)}"; pull from a signatory's node: ${elsewhere}, or this one again in a minute`
  }
}

/** A peer's words, safe to print: no control characters (a terminal's escapes), at most 200. */
function printable (s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 200)
}
