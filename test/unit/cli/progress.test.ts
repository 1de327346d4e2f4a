import { describe, expect, it, vi } from 'vitest'
import { CliContext } from '../../../src/cli/context.js'
import { formatDuration, Progress, type ProgressMode } from '../../../src/cli/progress.js'
import { WorkMeter, type WorkProgress } from '../../../src/util/index.js'

const MiB = 1024 * 1024
// Control characters other than the newline that ends a plain line.
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/ // eslint-disable-line no-control-regex

/** A renderer on a fake clock, fed a steady 10 MiB/s over `seconds`, updated every 50 ms. */
function run (mode: ProgressMode, seconds: number, o: { total?: number, end?: boolean, phaseTotal?: number } = {}): string[] {
  let now = 0
  const out: string[] = []
  const p = new Progress({ label: 'verify', mode, write: s => { out.push(s) }, now: () => now })
  const total = o.total ?? 10 * MiB * seconds
  for (let t = 0; t <= seconds * 1000; t += 50) {
    now = t
    const done = Math.min(total, Math.round(10 * MiB * t / 1000))
    const u: WorkProgress = { phase: 'hashing', done, total }
    if (o.phaseTotal !== undefined) { u.phaseTotal = o.phaseTotal; u.phaseDone = done % o.phaseTotal }
    p.update(u)
  }
  if (o.end !== false) p.end()
  return out
}

describe('progress display', () => {
  it('piped: plain lines only, one per 5 s, with percentage, amounts, rate and ETA, then the final state', () => {
    const out = run('lines', 20)
    for (const l of out) {
      expect(l.endsWith('\n')).toBe(true)
      expect(l.slice(0, -1)).not.toMatch(CONTROL)
    }
    // Quiet for the first second, then at 1 s, 6 s, 11 s, 16 s; and the final state.
    expect(out).toHaveLength(5)
    expect(out[0]).toBe('verify: 5% hashing 10.0 MiB of 200.0 MiB, 10.0 MiB/s, ETA 19 s\n')
    expect(out[2]).toBe('verify: 55% hashing 110.0 MiB of 200.0 MiB, 10.0 MiB/s, ETA 9 s\n')
    expect(out.at(-1)).toBe('verify: 100% hashing 200.0 MiB of 200.0 MiB, 10.0 MiB/s, 20 s\n')
  })

  it('prints nothing at all for work that ends within a second', () => {
    for (const mode of ['lines', 'tty', 'json'] as const) expect(run(mode, 0.9)).toEqual([])
  })

  it('on a terminal: one line redrawn in place, at most every 100 ms, ended with a newline', () => {
    const out = run('tty', 3)
    expect(out.at(-1)).toBe('\n')
    const draws = out.slice(0, -1)
    for (const d of draws) {
      expect(d.startsWith('\r')).toBe(true)
      expect(d.endsWith('\x1b[K')).toBe(true)
      expect(d).not.toContain('\n')
    }
    expect(draws.length).toBeGreaterThan(10)
    expect(draws.length).toBeLessThanOrEqual(21) // 2 s of redraws at 100 ms, and the final state
    expect(draws.at(-1)).toBe('\rverify 100% [########################] hashing 30.0 MiB of 30.0 MiB · 10.0 MiB/s · 3 s\x1b[K')
  })

  it('with --json: one progress object per line on stderr, at most one per second', () => {
    const out = run('json', 5)
    expect(out).toHaveLength(5) // at 1, 2, 3, 4 and 5 s; the final state is the 5 s one, not repeated
    const events = out.map(l => (JSON.parse(l) as { progress: Record<string, unknown> }).progress)
    expect(events[0]).toEqual({ task: 'verify', phase: 'hashing', unit: 'bytes', done: 10 * MiB, total: 50 * MiB, phase_done: null, phase_total: null, rate: 10 * MiB, eta_seconds: 4, elapsed_seconds: 1 })
    expect(events.at(-1)).toMatchObject({ done: 50 * MiB, total: 50 * MiB, eta_seconds: 0 })
  })

  it('shows the current pass\'s own amounts when the work has several passes', () => {
    const out = run('lines', 8, { total: 160 * MiB, phaseTotal: 20 * MiB })
    expect(out[0]).toBe('verify: 6% hashing 10.0 MiB of 20.0 MiB, 10.0 MiB/s, ETA 15 s\n')
  })

  it('counts units other than bytes (the query mirror counts blocks)', () => {
    let now = 0
    const out: string[] = []
    const p = new Progress({ label: 'query mirror', mode: 'lines', unit: 'blocks', write: s => { out.push(s) }, now: () => now })
    now = 0; p.update({ phase: 'updating', done: 0, total: 40 })
    now = 2000; p.update({ phase: 'updating', done: 20, total: 40 })
    p.end()
    expect(out).toEqual(['query mirror: 50% updating 20/40 blocks, 10 blocks/s, ETA 2 s\n'])
  })

  it('formats durations', () => {
    expect([0, 8.4, 59.6, 125, 3600 + 180].map(formatDuration)).toEqual(['0 s', '8 s', '1 min 00 s', '2 min 05 s', '1 h 03 min'])
  })
})

describe('progress among other output on a terminal', () => {
  it('a log line, a note or a result never lands inside the progress line; the line ends before an error', () => {
    // The progress clock is process.hrtime (monotonicMs), so that no command loads perf_hooks for it.
    vi.useFakeTimers({ toFake: ['hrtime'] })
    try {
      let err = ''
      let out = ''
      const ctx = new CliContext({}, { stdout: s => { out += s }, stderr: s => { err += s }, env: {}, stderrIsTTY: true, packageRoot: '.' }, new AbortController().signal)
      const bar = ctx.progress('verify')
      vi.advanceTimersByTime(1500)
      bar.update({ phase: 'verifying', done: 10, total: 100 })
      expect(err).toMatch(/^\rverify {2}10% .*\x1b\[K$/)
      ctx.logger.warn('a peer went away')
      ctx.out.note('a note')
      ctx.out.result({}, () => 'a result')
      // The line is cleared once, before the first of them; each starts at the beginning of a line.
      expect(err).toMatch(/^\rverify .*\x1b\[K\r\x1b\[K\d\d:\d\d:\d\d WARN +petal +a peer went away\na note\n$/)
      expect(out).toBe('a result\n')
      vi.advanceTimersByTime(200)
      bar.update({ phase: 'verifying', done: 20, total: 100 })
      expect(err.endsWith('\x1b[K')).toBe(true) // redrawn below
      ctx.endProgress() // as before an error is reported
      expect(err.endsWith('\n')).toBe(true)
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('WorkMeter', () => {
  it('adds up passes of known sizes; progress within a pass by bytes or fraction; never backwards', () => {
    const seen: WorkProgress[] = []
    const m = new WorkMeter(p => { seen.push(p) }, 300)
    m.stage('copying', 100)
    m.at(40)
    m.at(30) // a late report never moves it back
    m.stage('hashing rows', 100)
    m.fraction(0.5)
    m.add(10)
    m.stage('hashing', 100)
    m.add(1000) // clamped to the pass
    m.finish()
    expect(seen.map(p => [p.phase, p.done, p.total])).toEqual([
      ['copying', 0, 300], ['copying', 40, 300],
      ['hashing rows', 100, 300], ['hashing rows', 150, 300], ['hashing rows', 160, 300],
      ['hashing', 200, 300], ['hashing', 300, 300], ['hashing', 300, 300]
    ])
    expect(seen[4]).toMatchObject({ phaseDone: 60, phaseTotal: 100 })
  })

  it('reports a total at least as large as what was done', () => {
    const seen: WorkProgress[] = []
    const m = new WorkMeter(p => { seen.push(p) }, 10)
    m.stage('receiving', 50)
    m.at(25)
    expect(seen.at(-1)).toMatchObject({ done: 25, total: 25 })
    m.setTotal(100)
    expect(seen.at(-1)).toMatchObject({ done: 25, total: 100 })
  })
})
