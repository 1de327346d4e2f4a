/**
 * A small Prometheus registry (text exposition format 0.0.4): counters and histograms with labels,
 * and gauges read when scraped. Written here rather than taken from a package: a few dozen lines,
 * no global state, one registry per server.
 */

type Labels = Record<string, string>

interface Family { name: string, help: string, type: 'counter' | 'gauge' | 'histogram', render: () => string[] }

export class Counter {
  private readonly values = new Map<string, number>()
  constructor (readonly name: string) {}
  inc (labels: Labels = {}, n = 1): void { this.incKey(labelText(labels), n) }
  /** inc() with the labels already rendered by labelText() (a hot path renders them once). */
  incKey (k: string, n = 1): void {
    this.values.set(k, (this.values.get(k) ?? 0) + n)
  }
  get (labels: Labels = {}): number { return this.values.get(labelText(labels)) ?? 0 }
  lines (): string[] { return [...this.values].map(([k, v]) => `${this.name}${k} ${num(v)}`) }
}

export class Histogram {
  private readonly series = new Map<string, { counts: number[], sum: number, count: number }>()
  constructor (readonly name: string, private readonly buckets: readonly number[]) {}
  observe (value: number, labels: Labels = {}): void { this.observeKey(value, labelText(labels)) }
  /** observe() with the labels already rendered by labelText(). */
  observeKey (value: number, k: string): void {
    let s = this.series.get(k)
    if (s === undefined) { s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }; this.series.set(k, s) }
    // Counted in the first bucket that holds the value only (every HTTP request observes one);
    // lines() adds them up into Prometheus's cumulative buckets.
    const buckets = this.buckets
    let i = 0
    while (i < buckets.length && !(value <= (buckets[i] as number))) i++
    if (i < buckets.length) s.counts[i] = (s.counts[i] ?? 0) + 1
    s.sum += value
    s.count++
  }
  count (labels: Labels = {}): number { return this.series.get(labelText(labels))?.count ?? 0 }
  lines (): string[] {
    const out: string[] = []
    for (const [k, s] of this.series) {
      const inner = k === '' ? '' : k.slice(1, -1) + ','
      let below = 0
      this.buckets.forEach((b, i) => {
        below += s.counts[i] ?? 0
        out.push(`${this.name}_bucket{${inner}le="${num(b)}"} ${below}`)
      })
      out.push(`${this.name}_bucket{${inner}le="+Inf"} ${s.count}`, `${this.name}_sum${k} ${num(s.sum)}`, `${this.name}_count${k} ${s.count}`)
    }
    return out
  }
}

export const SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

export class MetricsRegistry {
  private readonly families: Family[] = []

  counter (name: string, help: string): Counter {
    const c = new Counter(name)
    this.families.push({ name, help, type: 'counter', render: () => c.lines() })
    return c
  }

  histogram (name: string, help: string, buckets: readonly number[] = SECONDS_BUCKETS): Histogram {
    const h = new Histogram(name, buckets)
    this.families.push({ name, help, type: 'histogram', render: () => h.lines() })
    return h
  }

  /** A gauge computed at scrape time; undefined values are left out. */
  gauge (name: string, help: string, read: () => number | undefined | Array<[Labels, number]>): void {
    this.families.push({
      name,
      help,
      type: 'gauge',
      render: () => {
        const v = read()
        if (v === undefined) return []
        if (typeof v === 'number') return [`${name} ${num(v)}`]
        return v.map(([l, x]) => `${name}${labelText(l)} ${num(x)}`)
      }
    })
  }

  render (): string {
    let s = ''
    for (const f of this.families) {
      s += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`
      for (const l of f.render()) s += l + '\n'
    }
    return s
  }
}

/** Labels as they appear in the exposition: `{a="1",b="2"}`, sorted by name ('' for none). */
export function labelText (labels: Labels): string {
  const keys = Object.keys(labels).sort()
  if (keys.length === 0) return ''
  return '{' + keys.map(k => `${k}="${escapeLabel(labels[k] ?? '')}"`).join(',') + '}'
}

function escapeLabel (v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function num (v: number): string {
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return Number.isNaN(v) ? 'NaN' : String(v)
}
