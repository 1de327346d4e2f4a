import type { PageChunk } from './table-root-worker.js'

/**
 * Consecutive chunks of a table's rows over its leaves (`cells[i]` rows in leaf i), each of
 * `sizeFor(rows not yet chunked)` rows but perhaps the last: a chunk may start and end inside a
 * leaf (`skip`, `end`). With sizes that are powers of two and only ever shrink, every chunk but
 * the last is a perfect subtree of the table's Merkle tree, so the chunks' roots fold in order.
 * Trailing leaves without rows give a last chunk of no rows.
 */
export function rowChunks (cells: readonly number[], sizeFor: (rowsLeft: number) => number): PageChunk[] {
  const chunks: PageChunk[] = []
  let left = cells.reduce((n, c) => n + c, 0)
  let leaf = 0
  let skip = 0
  while (leaf < cells.length) {
    const size = sizeFor(left)
    const first = leaf
    const firstSkip = skip
    let take = 0
    while (leaf < cells.length && take < size) {
      const rest = (cells[leaf] ?? 0) - skip
      if (take + rest <= size) { take += rest; leaf++; skip = 0 } else { skip += size - take; take = size }
    }
    chunks.push({ first, end: skip > 0 ? leaf + 1 : leaf, skip: firstSkip, take })
    left -= take
  }
  return chunks
}
