// `/verify`: checks a proof in this browser with the verifier `petal verify-proof` runs
// (src/proof/verifier, WebCrypto only). This page is one self-contained file: it works with the
// node stopped, or saved to disk and opened from there.
import { fromBase64, mergeTrust, NOT_PROVEN_KEYS, parseTrustFile, verifyProof, type ProofValue, type TrustAnchors, type VerifyOptions, type VerifyReport } from '../../../src/proof/verifier/index.js'
import { fill, h } from '../dom.js'
import { rejectionHint } from './hints.js'
import { receiptForm } from './receipt.js'

const main = document.getElementById('main') ?? document.body

function dropZone (id: string, label: string, help: string): { box: HTMLElement, area: HTMLTextAreaElement } {
  const area = h('textarea', { id, rows: 8, spellcheck: 'false', 'aria-describedby': `${id}-help` })
  const file = h('input', { type: 'file', id: `${id}-file`, 'aria-label': `${label}: choose a file` })
  file.addEventListener('change', () => { void file.files?.[0]?.text().then(t => { area.value = t }) })
  const box = h('div', { class: 'drop' }, h('label', { for: id }, label), area,
    h('div', { class: 'row' }, file, h('span', { id: `${id}-help`, class: 'muted' }, help)))
  box.addEventListener('dragover', e => { e.preventDefault(); box.classList.add('over') })
  box.addEventListener('dragleave', () => { box.classList.remove('over') })
  box.addEventListener('drop', e => {
    e.preventDefault()
    box.classList.remove('over')
    void e.dataTransfer?.files[0]?.text().then(t => { area.value = t })
  })
  return { box, area }
}

function valueText (v: ProofValue): string {
  if (v === null) return 'NULL'
  if ('integer' in v) return v.integer
  if ('real' in v) return v.real
  if ('text' in v) return JSON.stringify(v.text)
  // The document holds a BLOB as base64; shown as SQL writes it, in hex (it showed the base64
  // between x'…', a value the row does not hold: user48).
  const b = fromBase64(v.blob) ?? new Uint8Array(0)
  return `x'${Array.from(b, x => x.toString(16).padStart(2, '0')).join('')}'`
}

interface Signer { id: string, public_key: string, added_at: number, revoked_at: number | null, active: boolean }

/** A read token for a node exposed without --public-read: asked on a 401, kept in this page's memory only. */
let token: string | undefined

/** The node's refusal, with the API's code and message (it said only "the node answered 401"). */
class NodeRefusal extends Error {
  constructor (readonly status: number, message: string) { super(message) }
}

/** This node's signatories (GET /api/v1/signers): what the page can ask instead of a terminal. */
async function nodeSigners (): Promise<{ height: number, signers: Signer[] }> {
  const r = await fetch('/api/v1/signers', token === undefined ? undefined : { headers: { authorization: `Bearer ${token}` } })
  if (!r.ok) {
    let said = `the node answered ${r.status}`
    try {
      const e = (await r.json() as { error?: { code?: unknown, message?: unknown } }).error
      if (typeof e?.code === 'string') said += ` ${e.code}: ${String(e.message)}`
    } catch {}
    throw new NodeRefusal(r.status, said)
  }
  return await r.json() as { height: number, signers: Signer[] }
}

/**
 * A button that reads this node's signatories and gives them to `use`; `failed` gets what went
 * wrong (the read, or `use` itself). A node that needs a read token (exposed without
 * --public-read) gets one asked beside the button, as the explorer's other pages ask it: this page
 * is a file of its own, which no other page's token reaches (user51: it said "the node answered
 * 401" and nothing more).
 */
function signersButton (id: string, label: string, use: (r: Awaited<ReturnType<typeof nodeSigners>>) => void, failed: (message: string) => void): HTMLElement {
  const ask = h('span', null)
  const onclick = (): void => {
    fill(ask)
    void nodeSigners().then(use).catch((err: unknown) => {
      failed(`could not read this node's signatories: ${err instanceof Error ? err.message : String(err)}`)
      if (err instanceof NodeRefusal && err.status === 401) fill(ask, tokenAsk(onclick))
    })
  }
  return h('span', null, h('button', { type: 'button', id, onclick }, label), ask)
}

function tokenAsk (retry: () => void): HTMLElement {
  const input = h('input', { type: 'password', id: 'signers-token', autocomplete: 'off', spellcheck: 'false', 'aria-label': 'read token' })
  const use = (): void => { token = input.value.trim() === '' ? undefined : input.value.trim(); retry() }
  input.addEventListener('keydown', e => { if (e.key === 'Enter') { e.preventDefault(); use() } })
  return h('span', { class: 'row' }, input, h('button', { type: 'button', id: 'signers-token-use', onclick: use }, 'Use this read token'),
    h('span', { class: 'muted' }, 'this node needs a read token (', h('code', null, 'petal tokens create --scope read'), '); it stays in this page\'s memory only'))
}

/**
 * What the report cannot prove of its keys (NOT_PROVEN_KEYS), with what this page can do about
 * it: from a node, check each signatory key that signed against the node's list of signatories
 * (added, revoked); saved to disk, where else to look. It said to run `petal signers`, which a
 * person without a terminal cannot (user49).
 */
function keysNotProven (r: VerifyReport): HTMLElement {
  if (location.protocol === 'file:') {
    return h('li', null, NOT_PROVEN_KEYS, ': the explorer of a node of the chain lists its signatories, with the heights each was added and revoked at, on its home page (with a terminal: ', h('code', null, 'petal signers'), ')')
  }
  const out = h('div', { id: 'node-signers-check', 'aria-live': 'polite' })
  const signed = r.signatures.filter(s => s.kind === 'signatory' && s.status === 'valid' && s.key !== undefined)
  const button = signersButton('check-node-signers', 'Check the keys against this node\'s signatories', ({ height, signers }) => {
    fill(out, h('ul', null, signed.map(s => {
      const k = signers.find(x => x.id === s.key)
      const state = k === undefined ? 'is not a signatory this node knows' : k.revoked_at === null ? `is active at height ${height}, added at height ${k.added_at}` : `was REVOKED at height ${k.revoked_at} (added at height ${k.added_at})`
      return h('li', { class: k !== undefined && k.revoked_at === null ? 'ok' : 'bad' }, h('code', null, s.key ?? ''), ` ${state}`)
    })), h('p', { class: 'muted' }, 'as this node reports it: this trusts the node; for a check that does not, ask the signatories themselves'))
  }, message => { fill(out, h('p', { class: 'error' }, message)) })
  return h('li', null, NOT_PROVEN_KEYS, signed.length === 0 ? null : h('div', { class: 'row' }, button), out)
}

/**
 * The node's active signatories' public keys, one per line, into the trust box: the keys a user
 * who never opens a terminal could not get (`petal keys export` is the CLI's way). It trusts what
 * this node says; the page says so. Not on a page opened from disk: no node is behind it.
 */
function nodeSignersButton (area: HTMLTextAreaElement): HTMLElement | null {
  if (location.protocol === 'file:') return null
  const note = h('span', { class: 'muted', id: 'signers-note' })
  const button = signersButton('use-node-signers', 'Use this node\'s signatories', all => {
    const signers = all.signers.filter(s => s.active)
    area.value = signers.map(s => s.public_key).join('\n')
    note.textContent = `${signers.length} active signator${signers.length === 1 ? 'y' : 'ies'} as this node reports them: this trusts the node; for a check that does not, get the keys from the signatories themselves`
  }, message => { note.textContent = message })
  return h('div', { class: 'row' }, button, note)
}

function report (r: VerifyReport): HTMLElement {
  return h('section', { id: 'report' },
    h('div', { class: `banner ${r.ok ? 'ok' : 'bad'}`, role: 'status', id: r.ok ? 'verdict-ok' : 'verdict-bad' },
      // A rejection's verdict is "REJECTED: " and its failure's message, which the line below says
      // with its code: the banner said the message twice after "✗ Rejected." (explorer53).
      h('strong', null, r.ok ? '✓ Valid proof. ' : '✗ Rejected. '), r.ok || r.failure === undefined ? r.verdict : null,
      r.failure === undefined ? null : h('div', null, h('code', null, r.failure.code), ' ', r.failure.message),
      r.failure === undefined || rejectionHint(r.failure.code) === undefined ? null : h('div', { id: 'rejection-hint' }, h('strong', null, 'Hint: '), rejectionHint(r.failure.code) ?? '')),
    h('h2', null, 'Step by step'),
    h('ol', { class: 'checks' }, r.checks.map(c => h('li', null,
      h('span', { class: c.ok ? 'ok' : 'bad' }, c.ok ? '✓ ' : '✗ '), h('strong', null, c.step), ': ', c.message, c.code === undefined ? null : [' ', h('code', null, c.code)]))),
    r.rows.length === 0 ? null : [h('h2', null, 'Proven rows'), ...r.rows.map(row => h('div', { class: 'card' },
      h('p', null, `Block #${row.height} (${row.block_hash.slice(0, 16)}…), table ${row.table}, rowid ${row.rowid ?? '—'}${row.final ? ', final' : ', not yet final'}`),
      h('div', { class: 'scroll' }, h('table', null,
        h('thead', null, h('tr', null, row.columns.map(c => h('th', null, c)))),
        h('tbody', null, h('tr', null, row.values.map(v => h('td', null, valueText(v)))))))))],
    r.proven.length === 0 ? null : [h('h2', null, 'What this proves'), h('ul', null, r.proven.map(p => h('li', null, p)))],
    r.not_proven.length === 0 ? null : [h('h2', null, 'What it does not prove'), h('ul', null, r.not_proven.map(p => p === NOT_PROVEN_KEYS ? keysNotProven(r) : h('li', null, p)))])
}

function render (): void {
  fill(main)
  document.title = 'Verify a proof · Petal'
  const proof = dropZone('proof', 'Proof (JSON)', 'paste it, drop the file here, or choose it: what `petal prove` writes')
  const trust = dropZone('trust', 'Trusted keys or checkpoint', 'the signatories\' public keys (PEM, hex, or verifier keys), or a checkpoint you trust')
  // Empty: as `petal verify-proof` without --min-signatures, 1 with trusted keys, none with a trusted
  // checkpoint alone (the page always asked 1: a checkpoint alone was never enough, user50).
  const min = h('input', { type: 'number', id: 'min-signatures', min: 1, placeholder: '1', style: 'width:6rem' })
  const fin = h('input', { type: 'checkbox', id: 'require-final' })
  const out = h('div', { 'aria-live': 'polite' })
  const saved = sessionStorage.getItem('petal.proof')
  if (saved !== null) proof.area.value = saved
  main.append(
    h('h1', null, 'Verify a proof'),
    h('p', null, 'The check runs in this browser, with the same code as ', h('code', null, 'petal verify-proof'),
      ' and nothing but WebCrypto: nothing is sent anywhere, and it works with the node stopped. ',
      h('a', { href: location.protocol === 'file:' ? '#' : '/verify', download: 'petal-verify.html' }, 'Save this page'), ' to use it offline.'),
    h('form', { onsubmit: (e: Event) => { e.preventDefault(); void check(proof.area.value, trust.area.value, { minSignatures: min.value === '' ? undefined : Number(min.value) || 1, requireFinal: fin.checked }, out) } },
      proof.box, receiptForm(proof.area, (): Record<string, string> => token === undefined ? {} : { authorization: `Bearer ${token}` }), trust.box, nodeSignersButton(trust.area),
      h('div', { class: 'row' },
        h('label', { class: 'inline', for: 'min-signatures' }, 'signatures needed', min),
        h('label', { class: 'inline', for: 'require-final' }, fin, 'demand finality'),
        h('button', { class: 'primary', type: 'submit', id: 'check' }, 'Check the proof'))),
    out)
}

async function check (proofText: string, trustText: string, options: VerifyOptions, out: HTMLElement): Promise<void> {
  fill(out, h('p', { class: 'muted' }, 'Checking…'))
  let anchors: TrustAnchors = mergeTrust()
  if (trustText.trim() !== '') {
    const t = await parseTrustFile(trustText)
    if (typeof t === 'string') {
      fill(out, h('div', { class: 'error', role: 'alert' }, h('code', null, 'NO_TRUST_ANCHOR'), ` the trusted keys: ${t}`))
      return
    }
    anchors = t
  }
  try {
    fill(out, report(await verifyProof(proofText, anchors, options)))
  } catch (err) {
    fill(out, h('div', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err)))
  }
}

// Saved to disk, the page has no node behind it: links to the other pages would lead nowhere.
if (location.protocol === 'file:') for (const a of document.querySelectorAll('header nav a:not([aria-current])')) a.remove()
render()
