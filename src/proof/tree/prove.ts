import { EMPTY_TREE_ROOT, nodeHash } from '../../crypto/index.js'
import { consistencySpans, inclusionSpans, rootSpan, type NodeId } from './plan.js'
import type { NodeReader } from './node-store.js'

/** Head of a range from its perfect nodes (largest first): folded right to left, as RFC 6962 splits. */
function fold (hashes: readonly Uint8Array[]): Uint8Array {
  let acc = hashes.at(-1) as Uint8Array
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i] as Uint8Array, acc)
  return acc
}

/** Read every node of every span in one call, and fold each span into its hash. */
function resolve (reader: NodeReader, spans: readonly NodeId[][]): Uint8Array[] {
  const hashes = reader.readNodes(spans.flat())
  let pos = 0
  return spans.map(s => {
    const h = fold(hashes.slice(pos, pos + s.length))
    pos += s.length
    return h
  })
}

/** RFC 6962 audit path of leaf `index` in the tree of `size` leaves. */
export function inclusionProof (reader: NodeReader, index: number, size: number): Uint8Array[] {
  return resolve(reader, inclusionSpans(index, size))
}

/** RFC 6962 consistency proof between the trees of `m` and `n` leaves (0 < m ≤ n). */
export function consistencyProof (reader: NodeReader, m: number, n: number): Uint8Array[] {
  return resolve(reader, consistencySpans(m, n))
}

/** Head of the tree of the first `size` leaves. */
export function treeRoot (reader: NodeReader, size: number): Uint8Array {
  if (size === 0) return EMPTY_TREE_ROOT
  return resolve(reader, [rootSpan(size)])[0] as Uint8Array
}

/**
 * Audit paths for several leaves of a tree whose leaves are streamed once (a table read from a
 * block file): push every leaf hash in order, then call `finish`. Every perfect node forms while
 * the leaves stream past, so the nodes the paths need are kept as they form. O(n) hashing,
 * O(log n + paths) memory.
 */
export class PathCollector {
  private readonly wanted = new Map<number, Map<number, Uint8Array | undefined>>()
  private readonly stack: Array<{ level: number, hash: Uint8Array }> = []
  private count = 0

  constructor (readonly size: number, readonly indexes: readonly number[]) {
    for (const i of indexes) for (const id of inclusionSpans(i, size).flat()) this.want(id)
    for (const i of indexes) this.want({ level: 0, index: i })
    if (size > 0) for (const id of rootSpan(size)) this.want(id)
  }

  private want (id: NodeId): void {
    let m = this.wanted.get(id.level)
    if (m === undefined) this.wanted.set(id.level, m = new Map())
    m.set(id.index, undefined)
  }

  private keep (level: number, index: number, hash: Uint8Array): void {
    const m = this.wanted.get(level)
    if (m?.has(index) === true) m.set(index, hash)
  }

  push (leaf: Uint8Array): void {
    let level = 0
    let index = this.count
    let hash = leaf
    this.keep(0, index, hash)
    let top = this.stack.at(-1)
    while (top !== undefined && top.level === level) {
      this.stack.pop()
      hash = nodeHash(top.hash, hash)
      level++
      index = Math.floor(index / 2)
      this.keep(level, index, hash)
      top = this.stack.at(-1)
    }
    this.stack.push({ level, hash })
    this.count++
  }

  /** The leaves seen, their paths and the tree head; undefined when fewer or more leaves came than `size`. */
  finish (): { root: Uint8Array, leaves: Uint8Array[], paths: Uint8Array[][] } | undefined {
    if (this.count !== this.size) return undefined
    const reader: NodeReader = {
      readNodes: ids => ids.map(id => this.wanted.get(id.level)?.get(id.index) as Uint8Array)
    }
    return {
      root: treeRoot(reader, this.size),
      leaves: this.indexes.map(i => reader.readNodes([{ level: 0, index: i }])[0] as Uint8Array),
      paths: this.indexes.map(i => inclusionProof(reader, i, this.size))
    }
  }
}
