import type { WorkProgress } from '../util/index.js'
import { formatBytes } from './output.js'

/**
 * How progress is shown on stderr: `tty` one line redrawn in place; `lines` plain lines for a
 * pipe or a log file (no control characters); `json` one `{"progress": …}` object per line for
 * programs (with --json); `off` nothing.
 */
export type ProgressMode = 'tty' | 'lines' | 'json' | 'off'

export interface ProgressOptions {
  /** The command or task: "verify", "signimportblock", "pull". */
  label: string
  mode: ProgressMode
  write: (s: string) => void
  /** `bytes` (default): amounts, rates and ETAs in bytes; otherwise a count of this unit ("blocks"). */
  unit?: string
  /** Clock in ms (monotonicMs by default; tests fake it). */
  now?: () => number
}

// A terminal line is redrawn at most this often; plain and JSON lines are rarer.
const TTY_EVERY_MS = 100
const LINES_EVERY_MS = 5_000
const JSON_EVERY_MS = 1_000
// Nothing is shown for work that ends sooner: a quick command prints no progress at all.
const QUIET_MS = 1_000
// The rate is measured over about this much recent time, so the ETA follows the current phase.
const RATE_WINDOW_MS = 15_000
const BAR = 24

/**
 * Renders WorkProgress: percentage, phase, amount done of the total, rate over the last few
 * seconds, and an estimated time to completion. Throttled per mode; the completed state is shown
 * once, and only if something was shown before.
 */
export class Progress {
  private readonly now: () => number
  private readonly started: number
  private last?: WorkProgress
  private lastShown = -Infinity
  private lastShownDone = -1
  private lastLine = ''
  private shown = false
  private ended = false
  /** (time, done) samples for the rate. */
  private readonly samples: Array<[number, number]> = []

  constructor (private readonly options: ProgressOptions) {
    this.now = options.now ?? monotonicMs
    this.started = this.now()
  }

  update (p: WorkProgress): void {
    if (this.options.mode === 'off' || this.ended) return
    const t = this.now()
    this.last = p
    this.sample(t, p.done)
    if (t - this.started < QUIET_MS) return
    const every = this.options.mode === 'tty' ? TTY_EVERY_MS : this.options.mode === 'json' ? JSON_EVERY_MS : LINES_EVERY_MS
    if (t - this.lastShown < every) return
    this.show(t)
  }

  /** Take a terminal line off the screen (something else is about to be printed); the next update redraws it. */
  clear (): void {
    if (this.lastLine === '') return
    this.options.write('\r\x1b[K')
    this.lastShown = -Infinity
    this.lastLine = ''
  }

  /**
   * The work is over: if anything was shown, show the final state (unless the last line already
   * did) and end a terminal line, so that what is printed next starts on a line of its own.
   */
  end (): void {
    if (this.ended) return
    this.ended = true
    if (!this.shown || this.last === undefined) return
    if (this.last.done !== this.lastShownDone || this.options.mode === 'tty') this.show(this.now())
    if (this.options.mode === 'tty') this.options.write('\n')
    this.lastLine = ''
  }

  private show (t: number): void {
    const p = this.last
    if (p === undefined) return
    this.lastShown = t
    this.lastShownDone = p.done
    this.shown = true
    const rate = this.rate(t, p.done)
    const left = Math.max(0, p.total - p.done)
    const eta = rate !== undefined && rate > 0 && p.total > 0 ? left / rate : undefined
    if (this.options.mode === 'json') {
      this.options.write(JSON.stringify({
        progress: {
          task: this.options.label, phase: p.phase, unit: this.options.unit ?? 'bytes', done: p.done, total: p.total, phase_done: p.phaseDone ?? null, phase_total: p.phaseTotal ?? null,
          rate: rate === undefined ? null : Math.round(rate), eta_seconds: eta === undefined ? null : Math.ceil(eta), elapsed_seconds: Math.round((t - this.started) / 100) / 10
        }
      }) + '\n')
      return
    }
    const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0
    const pct = `${Math.floor(frac * 100)}%`
    // The current pass's own amounts when the work has several passes; the percentage and the ETA are the whole's.
    const amount = p.phaseTotal !== undefined && p.phaseDone !== undefined && p.phaseTotal !== p.total ? this.amount(p.phaseDone, p.phaseTotal) : this.amount(p.done, p.total)
    const parts = [
      `${p.phase === '' ? '' : p.phase + ' '}${amount}`,
      rate === undefined ? undefined : this.rateText(rate),
      left === 0 ? `${formatDuration((t - this.started) / 1000)}` : eta === undefined ? undefined : `ETA ${formatDuration(eta)}`
    ].filter((x): x is string => x !== undefined)
    if (this.options.mode === 'tty') {
      const bar = '#'.repeat(Math.round(frac * BAR)).padEnd(BAR, '.')
      const line = `\r${this.options.label} ${pct.padStart(4)} [${bar}] ${parts.join(' · ')}\x1b[K`
      if (line !== this.lastLine) this.options.write(line)
      this.lastLine = line
    } else {
      this.options.write(`${this.options.label}: ${pct} ${parts.join(', ')}\n`)
    }
  }

  private amount (done: number, total: number): string {
    if (this.options.unit !== undefined && this.options.unit !== 'bytes') return `${done}/${total} ${this.options.unit}`
    return `${formatBytes(done)} of ${formatBytes(total)}`
  }

  private rateText (rate: number): string {
    if (this.options.unit !== undefined && this.options.unit !== 'bytes') return `${rate < 10 ? rate.toFixed(1) : rate.toFixed(0)} ${this.options.unit}/s`
    return `${formatBytes(Math.round(rate))}/s`
  }

  /** Keep a (time, done) sample every quarter second, over the rate window. */
  private sample (t: number, done: number): void {
    const last = this.samples[this.samples.length - 1]
    if (last !== undefined && t - last[0] < 250) return
    this.samples.push([t, done])
    while (this.samples.length > 2 && t - (this.samples[1]?.[0] ?? t) > RATE_WINDOW_MS) this.samples.shift()
  }

  /** Units per second over the recent window (undefined until there is half a second of history). */
  private rate (t: number, done: number): number | undefined {
    const first = this.samples[0]
    if (first === undefined) return undefined
    const secs = (t - first[0]) / 1000
    if (secs < 0.5) return undefined
    return (done - first[1]) / secs
  }
}

/** "8 s", "2 min 05 s", "1 h 03 min". */
export function formatDuration (seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`
}

/**
 * A monotonic clock in ms. Not `performance.now()`: the first use of the global `performance`
 * loads Node's perf_hooks (~50 fresh pages in every command that shows progress, such as
 * `signimportblock`; docs/performance/startup.md, "Session 8: start-up").
 */
export function monotonicMs (): number {
  const [s, ns] = process.hrtime()
  return s * 1e3 + ns / 1e6
}
