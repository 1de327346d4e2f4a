// Which stored perfect subtrees a proof needs. Node (level k, index i) is the perfect subtree over
// leaves [i·2^k, (i+1)·2^k). Every hash in an RFC 6962 proof is the head of a range [a, b) whose
// start is aligned to the largest power of two not above b − a, so it is the right-to-left fold of
// at most log2(n) perfect nodes: a proof costs O(log n) node reads from a store of O(n) nodes.

export interface NodeId {
  readonly level: number
  readonly index: number
}

/** Perfect nodes covering [begin, end), largest first (an RFC 6962 range: descending sizes). */
export function spanOf (begin: number, end: number): NodeId[] {
  const out: NodeId[] = []
  while (begin < end) {
    let size = 1
    let level = 0
    while (begin % (size * 2) === 0 && begin + size * 2 <= end) { size *= 2; level++ }
    out.push({ level, index: begin / size })
    begin += size
  }
  return out
}

/** Largest power of two strictly below n (n ≥ 2): where RFC 6962 splits a tree of n leaves. */
export function splitPoint (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function checkSize (size: number, what: string): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`${what} ${size} is not a non-negative safe integer`)
}

/** RFC 6962 §2.1.1 PATH(m, D[n]) as ranges, bottom-up (the order of the audit path). */
export function inclusionSpans (index: number, size: number): NodeId[][] {
  checkSize(size, 'tree size')
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`leaf index ${index} is not below the tree size ${size}`)
  const topDown: NodeId[][] = []
  let a = 0
  let b = size
  while (b - a > 1) {
    const k = splitPoint(b - a)
    if (index - a < k) { topDown.push(spanOf(a + k, b)); b = a + k } else { topDown.push(spanOf(a, a + k)); a += k }
  }
  return topDown.reverse()
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]) as ranges, in proof order; 0 < m ≤ n. */
export function consistencySpans (m: number, n: number): NodeId[][] {
  checkSize(n, 'tree size')
  if (!Number.isSafeInteger(m) || m < 1 || m > n) throw new RangeError(`consistency from size ${m} to ${n}: need 0 < m ≤ n`)
  // SUBPROOF(m, D[a:b], whole) unrolled: each step adds the sibling range on the way down.
  const topDown: NodeId[][] = []
  let a = 0
  let b = n
  let whole = true
  for (;;) {
    if (m === b - a) {
      if (!whole) topDown.push(spanOf(a, b))
      break
    }
    const k = splitPoint(b - a)
    if (m <= k) {
      topDown.push(spanOf(a + k, b))
      b = a + k
    } else {
      topDown.push(spanOf(a, a + k))
      m -= k
      a += k
      whole = false
    }
  }
  // Reversed: the base element (if any) first, then the siblings from the bottom up.
  return topDown.reverse()
}

/** Perfect nodes whose fold is the head of the tree of `size` leaves. */
export function rootSpan (size: number): NodeId[] {
  checkSize(size, 'tree size')
  return spanOf(0, size)
}
