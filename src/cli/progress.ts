import { formatBytes } from './output.js'

export interface ProgressOptions { label: string, unit: string, enabled: boolean, isTTY: boolean, write: (s: string) => void }

/**
 * A progress display on stderr: a redrawn bar on a terminal, a line every few seconds otherwise,
 * nothing with --json.
 */
export class Progress {
  private readonly started = performance.now()
  private lastDraw = -Infinity
  private drawn = false
  /** The count at the first update (a resumed pull starts above 0): rates count from there. */
  private first?: number
  private finished = false

  constructor (private readonly o: ProgressOptions) {}

  update (done: number, total: number | undefined, bytes?: number): void {
    if (!this.o.enabled) return
    const now = performance.now()
    const interval = this.o.isTTY ? 100 : 5000
    this.first ??= done
    // Reaching the total is drawn at once, but only once for as long as it stays reached.
    const reached = done === total
    if (now - this.lastDraw < interval && !(reached && !this.finished)) return
    this.finished = reached
    this.lastDraw = now
    const secs = (now - this.started) / 1000
    const rate = secs > 0 ? ` ${((done - this.first) / secs).toFixed(0)} ${this.o.unit}/s` : ''
    const mb = bytes !== undefined && secs > 0 ? ` ${formatBytes(bytes)} (${(bytes / 1024 / 1024 / secs).toFixed(1)} MiB/s)` : ''
    const of = total !== undefined ? `/${total}` : ''
    if (this.o.isTTY) {
      const width = 28
      const frac = total !== undefined && total > 0 ? Math.min(1, done / total) : 0
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.')
      this.o.write(`\r${this.o.label} [${bar}] ${total !== undefined ? Math.floor(frac * 100) + '% ' : ''}${done}${of} ${this.o.unit}${rate}${mb}\x1b[K`)
      this.drawn = true
    } else {
      this.o.write(`${this.o.label}: ${done}${of} ${this.o.unit}${rate}${mb}\n`)
    }
  }

  done (): void {
    if (this.drawn) this.o.write('\n')
    this.drawn = false
  }
}
