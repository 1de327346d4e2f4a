import { openBlockReadonly } from '../block/index.js'
import type { BlockRecord } from '../storage/index.js'
import type { Chain } from './chain.js'

/**
 * The re-seal mark (docs/consensus.md, "Re-sealing orphaned blocks"): a re-seal names the origin
 * of its content (the block first published with it) in its `_meta` `Description`, free text that
 * block format v2 already allows (≤ 4096 characters) and the seal covers, as its last line,
 * `re-seal of <origin hash>`. Every node reads it from the chain, so whether an orphan's content
 * is back no longer depends on which node re-sealed it (two nodes that share a key).
 */
const PREFIX = 're-seal of '
const MARK = /(?:^|\n)re-seal of ([0-9a-f]{64})$/

/** The Description of a re-seal of `origin`'s content. */
export function resealDescription (origin: string): string {
  return `${PREFIX}${origin}`
}

/** The origin a Description names as a re-seal's, if it is one. */
export function parseResealMark (description: string | undefined): string | undefined {
  if (description === undefined) return undefined
  return MARK.exec(description)?.[1]
}

// A block's Description never changes (it is in the bytes its hash names): read once a block.
const known = new WeakMap<Chain, Map<string, string | null>>()
const KEEP = 10_000

/**
 * The origin `b`'s Description names (b is a re-seal by a Petal that marks them), read from its
 * file: undefined for a block without the mark. A file that is not `b` where the index puts it (a
 * reorg by another process moved it meanwhile) is looked for at its other place; not found, it
 * counts as unmarked for this call and is read again at the next (the judgement that decides runs
 * under the write lock, where nothing moves).
 */
export function resealMarkOf (chain: Chain, b: BlockRecord): string | undefined {
  if (b.version !== 2) return undefined
  let cache = known.get(chain)
  if (cache === undefined) known.set(chain, cache = new Map())
  const hit = cache.get(b.hash)
  if (hit !== undefined) return hit ?? undefined
  const meta = metaOf(chain, b)
  if (meta === undefined) return undefined
  const origin = parseResealMark(meta.get('Description')) ?? null
  if (cache.size >= KEEP) cache.clear()
  cache.set(b.hash, origin)
  return origin ?? undefined
}

/**
 * `b`'s `_meta` Description, read from its file as resealMarkOf reads it, and the origin its re-seal
 * mark names (v2 blocks): what `petal block` and GET /api/v1/blocks/{ref} show. undefined: the
 * file was not found where the index puts `b`.
 */
export function blockDescription (chain: Chain, b: BlockRecord): { description: string | undefined, resealOf: string | undefined } | undefined {
  const meta = metaOf(chain, b)
  if (meta === undefined) return undefined
  const description = meta.get('Description')
  return { description, resealOf: b.version === 2 ? parseResealMark(description) : undefined }
}

/** `b`'s `_meta`, from its file where the index puts it, or from its other place (a reorg by another process moved it). */
function metaOf (chain: Chain, b: BlockRecord): Map<string, string> | undefined {
  const paths = b.canonical ? [chain.dir.blockPath(b.height), chain.dir.forkPath(b.hash)] : [chain.dir.forkPath(b.hash), chain.dir.blockPath(b.height)]
  for (const path of paths) {
    const meta = readMeta(path)
    if (meta !== undefined && isBlock(meta, b)) return meta
  }
  return undefined
}

function readMeta (path: string): Map<string, string> | undefined {
  try {
    const db = openBlockReadonly(path)
    try {
      return new Map((db.prepare('SELECT key, value FROM _meta').raw().all() as Array<[string, string]>))
    } finally {
      db.close()
    }
  } catch {
    return undefined
  }
}

/** Whether `_meta` is the one of the block the index records as `b` (all its signed fields but the Description; a v1 block's has no Height or RowsRoot). */
function isBlock (meta: Map<string, string>, b: BlockRecord): boolean {
  return (b.version !== 2 || (meta.get('Height') === String(b.height) && meta.get('RowsRoot') === b.rowsRoot)) && meta.get('PreviousBlockHash') === b.parent &&
    meta.get('CreatorPublicKey') === b.signer && meta.get('PreviousBlockHashSignature') === b.prevSig && meta.get('Timestamp') === b.timestamp
}
