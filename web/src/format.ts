// How values and facts look on the pages.
import { h, type Child } from './dom.js'
import { JsonNumber, type Lossless } from './json.js'

export function bytes (n: number): string {
  if (n < 1024) return `${n} B`
  const u = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${u[i] ?? ''}`
}

export function count (n: number): string { return n.toLocaleString('en-US') }

/** `1 row`, `2 rows`: a count with its unit. */
export function counted (n: number, unit: string): string { return `${count(n)} ${unit}${n === 1 ? '' : 's'}` }

/** An ISO time, shown in UTC as the chain stores it, with how long ago (kept true by agesMove). */
export function time (iso: string): Child {
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return iso
  return h('time', { datetime: iso, title: iso, class: 'ago' }, timeText(iso, t))
}

function timeText (iso: string, t: number): string { return `${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} (${ago(t)})` }

/**
 * Every "(… ago)" on the page, said again as the clock moves: a page left open said "(0 s ago)" of
 * a block for as long as it stayed open (explorer53).
 */
export function agesMove (root: ParentNode, everyMs = 5000): void {
  setInterval(() => {
    for (const el of root.querySelectorAll('time.ago')) {
      const iso = el.getAttribute('datetime') ?? ''
      const t = Date.parse(iso)
      if (!Number.isNaN(t)) el.textContent = timeText(iso, t)
    }
  }, everyMs)
}

export function ago (t: number): string {
  const s = Math.round((Date.now() - t) / 1000)
  if (s < 0) return 'in the future'
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400 * 2) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86400)} days ago`
}

/** A key id `1:<64 hex>`, shortened, with the whole of it in a tooltip. */
export function keyId (id: string): Child {
  return h('span', { class: 'hash', title: id }, id.length > 14 ? `${id.slice(0, 10)}…` : id)
}

export function shortHash (hash: string): string { return hash.length > 16 ? `${hash.slice(0, 16)}…` : hash }

function base64Bytes (b64: string): Uint8Array {
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/** One value from a block: NULL, empty text and BLOBs each look like themselves; numbers exact. */
export function cell (v: Lossless): Child {
  if (v === null) return h('span', { class: 'null' }, 'NULL')
  if (v instanceof JsonNumber) return v.text
  if (typeof v === 'string') return v === '' ? h('span', { class: 'empty', title: 'empty text' }, '""') : v
  if (typeof v === 'object' && !Array.isArray(v) && typeof v.$base64 === 'string') {
    const b = base64Bytes(v.$base64)
    const hex = Array.from(b.subarray(0, 16), x => x.toString(16).padStart(2, '0')).join('')
    return h('span', { class: 'blob', title: `BLOB of ${b.length} bytes` }, `BLOB ${b.length} B${b.length > 0 ? ` x'${hex}${b.length > 16 ? '…' : ''}'` : ''}`)
  }
  return JSON.stringify(v)
}

export function isNumeric (v: Lossless): boolean { return v instanceof JsonNumber }

/** A column to right-align: numbers (or NULL) all the way down, at least one number. */
export function numericColumn (rows: readonly Lossless[][], i: number): boolean {
  return rows.some(r => isNumeric(r[i] ?? null)) && rows.every(r => r[i] === null || isNumeric(r[i] ?? null))
}
