// `/query?sql=…`: SQL over the whole chain (merged, or per block), the statement in the URL so a
// result can be shared; results exact (big integers, REALs, NULL apart from empty text).
import { ApiFailure, postJson } from '../api.js'
import { append, download, fill, h } from '../dom.js'
import { cell, count, numericColumn } from '../format.js'
import { JsonNumber, parseLossless, type Lossless } from '../json.js'
import { navigate } from '../nav.js'
import { errorBox, tokenForm } from '../page.js'
import { running, seconds, timeoutInConsole } from './query-time.js'

const HISTORY_KEY = 'petal.query.history'
const HISTORY = 15
/** Rows shown in the page; the downloads have them all. */
const SHOW_ROWS = 5000
const EXAMPLE = 'SELECT height, timestamp, signer FROM _blocks ORDER BY height DESC LIMIT 10'

/** `timeout`: the time limit in seconds, when not the node's default (`?timeout=S`). */
interface Statement { sql: string, perBlock: boolean, timeout?: number }

function history (): Statement[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(HISTORY_KEY) ?? '[]')
    return Array.isArray(v) ? v.filter((x): x is Statement => typeof x === 'object' && x !== null && typeof x.sql === 'string') : []
  } catch {
    return []
  }
}

function remember (s: Statement): void {
  const list = [s, ...history().filter(x => x.sql !== s.sql || x.perBlock !== s.perBlock)].slice(0, HISTORY)
  try { localStorage.setItem(HISTORY_KEY, JSON.stringify(list)) } catch {}
}

function linkOf (s: Statement): string {
  const q = new URLSearchParams({ sql: s.sql })
  if (s.perBlock) q.set('per_block', '1')
  if (s.timeout !== undefined) q.set('timeout', String(s.timeout))
  return `/query?${q.toString()}`
}

export async function queryPage (main: HTMLElement, url: URL, signal: AbortSignal): Promise<void> {
  document.title = 'Query · Petal explorer'
  const sql = url.searchParams.get('sql')
  const perBlock = url.searchParams.get('per_block') === '1'
  const timeout = /^[1-9]\d{0,3}$/.test(url.searchParams.get('timeout') ?? '') ? Number(url.searchParams.get('timeout')) : undefined
  const editor = h('textarea', { id: 'sql', rows: 6, spellcheck: 'false', autocapitalize: 'off', 'aria-describedby': 'sql-help' })
  editor.value = sql ?? EXAMPLE
  const pb = h('input', { type: 'checkbox', id: 'per-block', checked: perBlock })
  const result = h('section', { id: 'result', 'aria-live': 'polite' })
  const run = (): void => {
    // The time limit a rerun asked for stays with the statements that follow it.
    const s = { sql: editor.value.trim(), perBlock: pb.checked, timeout }
    if (s.sql === '') return
    // The statement goes into the URL (and the history), then the page runs what the URL says.
    navigate(linkOf(s), { replace: linkOf(s) === location.pathname + location.search })
  }
  editor.addEventListener('keydown', e => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run() } })
  const statement = sql === null || sql.trim() === '' ? undefined : { sql: sql.trim(), perBlock, timeout }
  if (statement !== undefined) remember(statement)
  const past = history()
  append(main, [
    h('h1', null, 'Query the chain'),
    h('form', { onsubmit: (e: Event) => { e.preventDefault(); run() } },
      h('label', { for: 'sql' }, 'SQL (one read-only statement)'), editor,
      h('p', { id: 'sql-help', class: 'muted' }, 'Each user table is the union of that table over all blocks, with a ', h('code', null, '_height'), ' column; ',
        h('code', null, '_blocks'), ' has every block. Ctrl+Enter runs the statement.'),
      h('div', { class: 'row' }, h('label', { class: 'inline', for: 'per-block' }, pb, 'per block (Daisy\'s mode: the statement runs in each block)'),
        h('button', { class: 'primary', type: 'submit' }, 'Run'))),
    tablesList(),
    result,
    past.length === 0 ? null : h('section', null, h('h2', null, 'Recent statements'),
      h('ul', { class: 'history' }, past.map(s => h('li', null, h('a', { href: linkOf(s) }, s.sql), s.perBlock ? ' (per block)' : ''))))])
  if (statement !== undefined) await execute(result, statement, signal, editor)
}

/** The chain's user tables (the mirror's `_tables`: every block's manifest), for a user who does not know their names. */
const TABLES_SQL = 'SELECT name, count(*) AS blocks, sum(rows) AS rows FROM _tables GROUP BY name ORDER BY name'

/** "Tables on this chain", asked of the node when opened (one query, not at every visit). */
function tablesList (): HTMLElement {
  const list = h('div', { id: 'tables' })
  const details = h('details', { id: 'chain-tables' }, h('summary', null, 'Tables on this chain'), list)
  details.addEventListener('toggle', () => { if (details.open && list.childElementCount === 0) void loadTables(list) })
  return details
}

async function loadTables (list: HTMLElement): Promise<void> {
  fill(list, h('p', { class: 'muted' }, 'Loading…'))
  try {
    const doc = parseLossless(await (await postJson('/api/v1/query', { sql: TABLES_SQL, format: 'json' })).text())
    const rows = arrayOf(get(doc, 'rows')).filter(Array.isArray)
    if (rows.length === 0) { fill(list, h('p', { class: 'muted' }, 'No block has a user table yet.')); return }
    fill(list, h('div', { class: 'scroll' }, h('table', null,
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'table'), h('th', { scope: 'col', class: 'num' }, 'blocks'), h('th', { scope: 'col', class: 'num' }, 'rows'))),
      h('tbody', null, rows.map(([name, blocks, n]) => h('tr', null,
        h('td', null, h('a', { href: linkOf({ sql: `SELECT * FROM "${String(name).replaceAll('"', '""')}" LIMIT 100`, perBlock: false }) }, String(name))),
        h('td', { class: 'num' }, cell(blocks ?? null)), h('td', { class: 'num' }, cell(n ?? null))))))))
  } catch (err) {
    fill(list, errorBox(err))
  }
}

/**
 * The statement of a hint's `POST /api/v1/query {"sql": "SQL"}` (QUERY_UNKNOWN_TABLE's,
 * QUERY_UNKNOWN_COLUMN's, QUERY_EMPTY's: the API's hints, src/api/api-hints.ts): this console
 * sends the request itself. Until session 51 the API's hints named `petal query "SQL"`.
 */
export function hintStatement (hint: string | undefined): string | undefined {
  const body = /POST \/api\/v1\/query (\{"sql": "(?:[^"\\]|\\.)*"\})/.exec(hint ?? '')?.[1]
  if (body === undefined) return undefined
  let sql: unknown
  try { sql = (JSON.parse(body) as { sql?: unknown }).sql } catch { return undefined }
  return typeof sql === 'string' && sql !== '' ? sql : undefined
}

/** The hint's statement, offered in this console: run at once, or, with a TABLE to fill in, put in the editor with TABLE selected. */
function hintInConsole (sql: string, editor: HTMLTextAreaElement): HTMLElement {
  const placeholder = sql.indexOf("'TABLE'")
  const button = placeholder < 0
    ? h('button', { type: 'button', id: 'run-hint', onclick: () => { navigate(linkOf({ sql, perBlock: false })) } }, 'Run it here')
    : h('button', {
      type: 'button',
      id: 'edit-hint',
      onclick: () => {
        editor.value = sql
        editor.focus()
        editor.setSelectionRange(placeholder + 1, placeholder + 6)
      }
    }, 'Put it in the editor (replace TABLE)')
  return h('div', { class: 'row', id: 'hint-statement' }, h('span', null, 'In this console: ', h('code', null, sql)), button)
}

async function execute (out: HTMLElement, s: Statement, signal: AbortSignal, editor: HTMLTextAreaElement): Promise<void> {
  // Cancel aborts the request; the node stops a statement whose client went away (docs/api.md).
  const cancel = new AbortController()
  signal.addEventListener('abort', () => { cancel.abort() })
  fill(out, running(cancel))
  const started = performance.now()
  let doc: Lossless
  try {
    const r = await postJson('/api/v1/query', { sql: s.sql, per_block: s.perBlock, format: 'json', max_rows: SHOW_ROWS, ...(s.timeout === undefined ? {} : { timeout_ms: s.timeout * 1000 }) }, cancel.signal)
    doc = parseLossless(await r.text())
  } catch (err) {
    if (signal.aborted) return
    if (cancel.signal.aborted) {
      fill(out, h('p', { class: 'muted', id: 'cancelled' }, `Cancelled after ${seconds(performance.now() - started)}: the node stopped the statement.`))
      return
    }
    if (err instanceof ApiFailure && err.code === 'QUERY_TIMEOUT') {
      const t = await timeoutInConsole(err, secs => { navigate(linkOf({ ...s, timeout: secs })) })
      fill(out, errorBox(t.error), t.button)
      return
    }
    fill(out, errorBox(err instanceof Error ? tooMany(err) : err))
    const hinted = err instanceof ApiFailure ? hintStatement(err.hint) : undefined
    if (hinted !== undefined) out.append(hintInConsole(hinted, editor))
    // Too large to show is not too large to download.
    if (err instanceof ApiFailure && err.code === 'QUERY_TOO_MANY_ROWS') out.append(downloads(out, s))
    // A node that needs a read token: asked here, as every other page asks it. A link to a result
    // (the page's own "Link to this result") opened in a new tab said API_UNAUTHORIZED with nowhere
    // to give the token (user51).
    if (err instanceof ApiFailure && err.status === 401) out.append(tokenForm(() => { void execute(out, s, signal, editor) }))
    return
  }
  const ms = performance.now() - started
  const columns = arrayOf(get(doc, 'columns')).map(String)
  const rows = arrayOf(get(doc, 'rows')).filter(Array.isArray)
  const rowCount = String(get(doc, 'rowCount') ?? rows.length)
  const blocks = get(doc, 'blocks')
  const numeric = columns.map((_, i) => numericColumn(rows, i))
  fill(out,
    h('div', { class: 'row' },
      h('strong', { id: 'row-count' }, `${count(Number(rowCount))} row${rowCount === '1' ? '' : 's'}`),
      h('span', { class: 'muted' }, `in ${ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`}${blocks === undefined ? '' : `, over ${String(blocks)} blocks`}`),
      downloads(out, s),
      h('a', { href: linkOf(s) }, 'Link to this result')),
    h('div', { class: 'scroll' }, h('table', { id: 'result-table' },
      h('thead', null, h('tr', null, columns.map((c, i) => h('th', { scope: 'col', class: numeric[i] === true ? 'num' : undefined }, c)))),
      h('tbody', null, rows.map(r => h('tr', null, r.map((v, i) => h('td', { class: numeric[i] === true ? 'num' : undefined }, cell(v)))))))))
  if (rows.some(r => r.some(isBlob))) void sealedNote(out, s.sql, signal)
}

function isBlob (v: Lossless): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber) && typeof v.$base64 === 'string'
}

/**
 * BLOBs in an answer that reads a table with encrypted columns: say which columns are encrypted
 * and how a recipient reads them (docs/confidential.md). The API never decrypts, and a reader saw
 * sealed values with nothing to say why, where the CLI's query names them on stderr (user51). The
 * chain's encrypted columns are its `_recipients` rows'; those of tables the statement names.
 */
async function sealedNote (out: HTMLElement, sql: string, signal: AbortSignal): Promise<void> {
  try {
    const doc = parseLossless(await (await postJson('/api/v1/query', { sql: "SELECT DISTINCT columns FROM _recipients WHERE block = ''", format: 'json' }, signal)).text())
    const words = new Set(sql.toLowerCase().split(/[^\p{L}\p{N}_$]+/u))
    const sealed = new Set<string>()
    for (const [columns] of arrayOf(get(doc, 'rows')).filter(Array.isArray)) {
      const pairs: unknown = JSON.parse(String(columns))
      if (!Array.isArray(pairs)) continue
      for (const p of pairs) if (Array.isArray(p) && words.has(String(p[0]).toLowerCase())) sealed.add(`${String(p[0])}.${String(p[1])}`)
    }
    if (sealed.size === 0) return
    out.append(h('p', { id: 'sealed-note', class: 'muted' }, `Encrypted on this chain: ${[...sealed].join(', ')}. Their values are shown as the sealed BLOBs, which the node's API never decrypts (its answers are the same for every reader); a recipient reads the plaintext on its own node, with `,
      h('code', null, 'petal query'), ' or ', h('code', null, 'petal export'), ' (docs/confidential.md).'))
  } catch {
    // A chain without encrypted columns has no _recipients table: nothing to say.
  }
}

function downloads (out: HTMLElement, s: Statement): HTMLElement {
  return h('span', { class: 'row', style: 'margin:0' },
    h('button', { type: 'button', id: 'csv', onclick: () => { void save(out, s, 'csv') } }, 'Download CSV'),
    h('button', { type: 'button', id: 'ndjson', onclick: () => { void save(out, s, 'ndjson') } }, 'Download NDJSON'))
}

/** The whole answer in a file, straight from the node in that format. */
async function save (out: HTMLElement, s: Statement, format: 'csv' | 'ndjson'): Promise<void> {
  try {
    const r = await postJson('/api/v1/query', { sql: s.sql, per_block: s.perBlock, format })
    download(`query.${format}`, await r.blob())
  } catch (err) {
    out.prepend(errorBox(err))
  }
}

/** A result too large to show: say how to get it. */
function tooMany (err: Error): Error {
  if (err instanceof ApiFailure && err.code === 'QUERY_TOO_MANY_ROWS') {
    return new ApiFailure(err.status, err.code, `more than ${count(SHOW_ROWS)} rows: too many to show here`, 'add a LIMIT, or download the whole answer as CSV or NDJSON')
  }
  return err instanceof TypeError ? new ApiFailure(0, 'QUERY_CUT', 'the answer was cut before its end', 'add a LIMIT, or download the answer') : err
}

function get (o: Lossless, k: string): Lossless | undefined {
  return typeof o === 'object' && o !== null && !Array.isArray(o) && !(o instanceof JsonNumber) ? o[k] : undefined
}

function arrayOf (v: Lossless | undefined): Lossless[] {
  return Array.isArray(v) ? v : []
}
