// A small bar chart of blocks and rows over time, drawn as SVG (no chart library needed for this).
import type { Activity } from './api.js'
import { h } from './dom.js'
import { count } from './format.js'

const NS = 'http://www.w3.org/2000/svg'

function svg (tag: string, attrs: Record<string, string | number>): SVGElement {
  const el = document.createElementNS(NS, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  return el
}

export function activityChart (a: Activity): HTMLElement {
  const n = a.buckets.length
  const W = 600
  const H = 90
  const maxBlocks = Math.max(1, ...a.buckets.map(b => b.blocks))
  const maxRows = Math.max(1, ...a.buckets.map(b => b.rows))
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: 'chart', role: 'img' })
  const bw = W / n
  a.buckets.forEach((b, i) => {
    // Blocks grow up from the middle line, rows down from it.
    const hb = (b.blocks / maxBlocks) * (H / 2 - 2)
    const hr = (b.rows / maxRows) * (H / 2 - 2)
    const g = svg('g', {})
    const title = svg('title', {})
    title.textContent = `${utc(b.start)}: ${count(b.blocks)} blocks, ${count(b.rows)} rows`
    g.append(title, svg('rect', { class: 'b', x: i * bw + 0.5, y: H / 2 - hb, width: Math.max(1, bw - 1), height: hb }),
      svg('rect', { class: 'r', x: i * bw + 0.5, y: H / 2, width: Math.max(1, bw - 1), height: hr }))
    root.append(g)
  })
  const label = `Blocks and rows from ${utc(a.from)} to ${utc(a.to)}, ${duration(a.bucket_seconds)} per bar`
  root.setAttribute('aria-label', label)
  return h('figure', { style: 'margin:0' }, root,
    h('figcaption', { class: 'legend' }, label, h('i', { class: 'b' }), `blocks (max ${count(maxBlocks)})`, h('i', { class: 'r' }), `rows (max ${count(maxRows)})`))
}

/** POSIX seconds as the rest of the explorer writes a time (format.ts, time): `2026-12-07 00:21:19Z`. */
function utc (seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}

function duration (s: number): string {
  if (s < 120) return `${s} s`
  if (s < 7200) return `${Math.round(s / 60)} min`
  if (s < 172800) return `${Math.round(s / 3600)} h`
  return `${Math.round(s / 86400)} days`
}
