// "The proof of a receipt": a receipt id (what `POST /api/v1/records` or `petal append` gave for a
// row) turned into its row's proof by the node that serves this page (GET /api/v1/receipts/{id}/proof).
// A person holding a receipt had no way to it in a browser: the explorer has no receipt page, and
// the API's hints for it name an event stream (explorer53).
import { h } from '../dom.js'

/** What to do about the node's refusal, in this page's terms; the API's own hint otherwise. */
function hintOf (code: string, hint: string | undefined): string | undefined {
  if (code === 'PROOF_ROW_PENDING') return 'its row waits to be sealed into a block: fetch the proof again after the next seal (this node\'s home page says when it is due)'
  if (code === 'INGEST_UNKNOWN_RECEIPT') return 'a receipt is answered only by the node that acknowledged its rows: open this page on that node'
  return hint
}

/** The form, for a page served by a node (none from disk); `into` gets the proof, `auth` the read token's header. */
export function receiptForm (into: HTMLTextAreaElement, auth: () => Record<string, string>): HTMLElement | null {
  if (location.protocol === 'file:') return null
  const input = h('input', { type: 'text', id: 'receipt', autocomplete: 'off', spellcheck: 'false', style: 'width:auto;flex:1 1 14rem', 'aria-label': 'receipt id' })
  const note = h('div', { id: 'receipt-note', role: 'status' })
  const ask = async (): Promise<void> => {
    const id = input.value.trim()
    if (id === '') return
    note.replaceChildren(h('span', { class: 'muted' }, 'Asking this node…'))
    let r: Response
    try {
      r = await fetch(`/api/v1/receipts/${encodeURIComponent(id)}/proof`, { headers: auth() })
    } catch {
      note.replaceChildren(h('div', { class: 'error' }, 'this node did not answer: is it still running?'))
      return
    }
    const text = await r.text()
    if (r.ok) {
      into.value = text
      note.replaceChildren(h('span', { class: 'muted' }, `The proof of the row of receipt ${id}, as this node made it, is in "Proof (JSON)": check it below.`))
      return
    }
    let code = `HTTP_${r.status}`
    let message = `the node answered ${r.status}`
    let hint: string | undefined
    try {
      const e = (JSON.parse(text) as { error?: { code?: unknown, message?: unknown, hint?: unknown } }).error
      if (typeof e?.code === 'string') { code = e.code; message = String(e.message); hint = typeof e.hint === 'string' ? e.hint : undefined }
    } catch {}
    const said = hintOf(code, hint)
    note.replaceChildren(h('div', { class: 'error', role: 'alert' }, h('div', null, h('code', null, code), ' ', message),
      said === undefined ? null : h('div', null, h('strong', null, 'Hint: '), said)))
  }
  input.addEventListener('keydown', e => { if (e.key === 'Enter') { e.preventDefault(); void ask() } })
  return h('div', null, h('div', { class: 'row' }, h('label', { class: 'inline', for: 'receipt' }, 'Or the proof of a receipt:'), input,
    h('button', { type: 'button', id: 'receipt-fetch', onclick: () => { void ask() } }, 'Fetch its proof from this node')), note)
}
