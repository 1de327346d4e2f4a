// C2SP tlog-checkpoint note text (c2sp.org/tlog-checkpoint), and Petal's use of it.
import { fromBase64, parseCount, toBase64, toHex } from './bytes.js'

export interface CheckpointText {
  origin: string
  size: number
  root: Uint8Array
  extensions: string[]
}

/** Parse checkpoint note text: origin, tree size, base64 root, optional non-empty extension lines. */
export function parseCheckpointText (text: string): CheckpointText | string {
  if (!text.endsWith('\n')) return 'the checkpoint text does not end with a newline'
  const lines = text.slice(0, -1).split('\n')
  if (lines.length < 3) return 'a checkpoint has at least three lines: origin, tree size, root hash'
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]]
  if (origin === '') return 'the checkpoint origin line is empty'
  const size = parseCount(sizeLine)
  if (size === undefined) return `tree size ${JSON.stringify(sizeLine)} is not a canonical decimal`
  const root = fromBase64(rootLine)
  if (root === undefined || root.length !== 32) return 'the root hash line is not the base64 of 32 bytes'
  if (extensions.some(l => l === '')) return 'a checkpoint extension line is empty'
  return { origin, size, root, extensions }
}

export function formatCheckpointText (c: CheckpointText): string {
  return [c.origin, String(c.size), toBase64(c.root), ...c.extensions].join('\n') + '\n'
}

/** Origin line of a Petal chain's checkpoints, and the key name of its signatories. */
export function petalOrigin (chainId: string): string {
  return `petal/${chainId}`
}

const ORIGIN_RE = /^petal\/([0-9a-f]{64})$/
const TIP_RE = /^tip (0|[1-9][0-9]*) max-reorg-depth (0|[1-9][0-9]*)$/

/** A Petal checkpoint: the chain tree of the canonical blocks 0…size−1, as its signer saw it. */
export interface PetalCheckpoint extends CheckpointText {
  chainId: string
  /** root as 64 hex */
  rootHex: string
  /** the signer's tip height when it signed */
  tip: number
  /** the chain's max_reorg_depth (committed in its genesis) */
  maxReorgDepth: number
  /** every block of the checkpoint is at least max_reorg_depth below the tip: no reorg can remove it */
  final: boolean
  /** heights up to this one were final when the checkpoint was signed (−1: none) */
  finalHeight: number
}

/** The one extension line of a Petal checkpoint. */
export function tipLine (tip: number, maxReorgDepth: number): string {
  return `tip ${tip} max-reorg-depth ${maxReorgDepth}`
}

/** Parse Petal checkpoint text: origin `petal/<chain id>`, size ≥ 1, exactly one `tip` line. */
export function parsePetalCheckpoint (text: string): PetalCheckpoint | string {
  const c = parseCheckpointText(text)
  if (typeof c === 'string') return c
  const m = ORIGIN_RE.exec(c.origin)
  if (m === null) return `origin ${JSON.stringify(c.origin.slice(0, 80))} does not name a Petal chain (petal/<chain id>)`
  if (c.size === 0) return 'a Petal checkpoint covers at least the genesis (size ≥ 1)'
  const t = c.extensions.length === 1 ? TIP_RE.exec(c.extensions[0] as string) : null
  if (t === null) return 'a Petal checkpoint has exactly one extension line: "tip <height> max-reorg-depth <n>"'
  const tip = parseCount(t[1] as string)
  const maxReorgDepth = parseCount(t[2] as string)
  if (tip === undefined || maxReorgDepth === undefined) return 'the tip line has a number out of range'
  if (tip < c.size - 1) return `the tip height ${tip} is below the checkpoint's last block ${c.size - 1}`
  const finalHeight = tip - maxReorgDepth
  return { ...c, chainId: m[1] as string, rootHex: toHex(c.root), tip, maxReorgDepth, final: c.size - 1 <= finalHeight, finalHeight: Math.max(finalHeight, -1) }
}
