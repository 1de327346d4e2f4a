// The home page's "Pending rows": what this node holds to seal (GET /api/v1/status `ingest`),
// kept live: polled while the page is open, the ages counting between polls.
import { getJson, type IngestStatus, type Status } from '../api.js'
import { fields, fill, h, type Child } from '../dom.js'
import { bytes, count, counted } from '../format.js'
import { redrawIfRefused } from '../page.js'
import type { Reach } from '../reach.js'

/** A duration in ms, as a person reads it: `42 s`, `3 min 5 s`, `2 h 10 min`. */
function duration (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor(s / 60) % 60} min`
}

/** The seal policy in words: when this node seals what is pending. */
function policyText (p: NonNullable<IngestStatus['seal_policy']>): string {
  const also = [p.rows === null ? null : `${count(p.rows)} rows`, p.bytes === null ? null : bytes(p.bytes)].filter(x => x !== null)
  return `once the oldest pending row is ${duration(p.every_ms)} old${also.length === 0 ? '' : `, or as soon as ${also.join(' or ')} are pending`}`
}

/** Of the pending rows, those a seal has claimed: it is building their block now (or was stopped part-way). */
function claimed (n: number): Child {
  return n === 0 ? null : h('span', { id: 'claimed-rows', class: 'muted' }, `, ${count(n)} of them claimed by a seal at work (or one stopped part-way, whose rows the next seal takes)`)
}

/** The panel for `s` as fetched `elapsed` ms ago (the ages move on between polls). */
function view (s: IngestStatus | null, elapsed: number): Child {
  if (s === null) return h('p', { class: 'muted' }, 'This server takes no records (petal serve): nothing is pending here.')
  const pending = s.pending_rows > 0
  return fields([
    ['pending rows', h('span', null, h('span', { id: 'pending-rows' }, count(s.pending_rows)), claimed(s.claimed_rows ?? 0))],
    ['pending bytes', bytes(s.pending_bytes)],
    ['oldest pending', !pending || s.oldest_pending_ms === null ? '—' : `${duration(s.oldest_pending_ms + elapsed)} old`],
    ['seals', s.seal_policy === null ? h('span', { class: 'muted' }, 'nothing: this node does not seal (no signatory key loaded); a signatory\'s node or `petal seal` seals what is pending') : policyText(s.seal_policy)],
    ['next seal', s.next_seal_ms === null ? (pending ? '—' : 'nothing to seal') : h('span', { id: 'next-seal' }, s.next_seal_ms - elapsed <= 0 ? 'due now' : `in ${duration(s.next_seal_ms - elapsed)}`)],
    ['sealed since start', `${counted(s.sealed_rows, 'row')}${s.last_seal === null ? '' : `, last in block #${s.last_seal.height}`}`]
  ])
}

/**
 * Show `first` in `box`, then keep it live until `signal` aborts: the status again every 3 s (rows
 * come and go between blocks, so the tip's events are not enough) and the ages every second; while
 * the node does not answer (`reach`), the ages stay as they were when it last did.
 */
export function followPending (box: HTMLElement, first: Status, signal: AbortSignal, reach: Reach): void {
  let s = first.ingest
  let at = Date.now()
  const show = (): void => { fill(box, view(s, (reach.downSince() ?? Date.now()) - at)) }
  show()
  if (s === null) return
  const tick = setInterval(show, 1000)
  const poll = setInterval(() => {
    getJson<Status>('/api/v1/status', signal).then(n => { s = n.ingest; at = Date.now(); reach.answered(); show() }, err => {
      if (!redrawIfRefused(err)) reach.failed(err)
    })
  }, 3000)
  signal.addEventListener('abort', () => { clearInterval(tick); clearInterval(poll) })
}
