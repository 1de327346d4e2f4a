// `/blocks/{height|hash}`: one block — header, seal checked here in the browser, tables with their
// roots, key operations, a rows browser per table (`?table=T&after=R`), and "prove this row".
import { fromHex, utf8, verifyP256 } from '../../../src/proof/verifier/index.js'
import { ApiFailure, getJson, getLossless, getText, type Block, type Status } from '../api.js'
import { download, fields, fill, h, type Child } from '../dom.js'
import { bytes, cell, count, counted, keyId, numericColumn, time } from '../format.js'
import { JsonNumber, type Lossless } from '../json.js'
import { errorBox } from '../page.js'
import { navigate } from '../nav.js'
import { followBlock, type Reorg } from './block-live.js'

const ROWS_PAGE = 50

/** A block reference the API takes (its `ref` pattern), hex in any case. */
const REF = /^([0-9]{1,15}|[0-9a-fA-F]{8,64})$/

/**
 * A page opened by height shows the canonical block at that height: when a reorg puts another one
 * there, the page draws that one, saying what it showed before (this), once. A page opened by hash
 * follows its block, abandoned or not (docs/explorer.md).
 */
let replaced: { height: number, hash: string, reorg: Reorg | undefined, at: string } | undefined

export async function blockPage (main: HTMLElement, url: URL, signal: AbortSignal): Promise<void> {
  const given = decodeURIComponent(url.pathname.split('/')[2] ?? '')
  // Said here in words, not as the API's schema refusal (`params/ref must match pattern …`, with a
  // hint to read openapi.json: user48). A hash typed in upper case is the same hash.
  if (!REF.test(given)) {
    throw new ApiFailure(400, 'API_BAD_REQUEST', `${JSON.stringify(given.slice(0, 80))} is not a block height or hash`,
      'give a height (such as 12) or a block\'s hash, whole or its first 8 hex digits or more; the Blocks page lists them')
  }
  const ref = given.toLowerCase()
  const byHeight = /^[0-9]+$/.test(ref)
  const before = replaced
  replaced = undefined
  const [b, s] = await Promise.all([
    getJson<Block>(`/api/v1/blocks/${encodeURIComponent(ref)}`, signal),
    getJson<Status>('/api/v1/status', signal)
  ])
  document.title = `Block #${b.height} · Petal explorer`
  const seal = h('span', null, 'checking…')
  const standing = h('p', { id: 'block-live', 'aria-live': 'polite' })
  const nav = h('nav', { class: 'pager', 'aria-label': 'Neighbours' },
    b.height > 0 ? h('a', { href: `/blocks/${b.parent}`, rel: 'prev' }, `← Parent #${b.height - 1}`) : null,
    b.canonical && b.height < s.tip.height ? nextLink(b.height) : null,
    h('a', { href: b.file_url, download: '', class: 'button' }, `Download the block file (${bytes(b.size)})`))
  const side = h('span', { class: 'bad' }, b.canonical ? null : ' (side branch: not canonical)')
  main.append(
    h('h1', null, `Block #${b.height}`, side),
    nav,
    ...(byHeight && before?.height === b.height && before.hash !== b.hash ? [changed(before)] : []),
    standing,
    fields([
      ['hash', h('span', { class: 'hash' }, b.hash)],
      ['parent', b.height === 0 ? h('span', { class: 'muted' }, 'none: the genesis') : h('a', { class: 'hash', href: `/blocks/${b.parent}` }, b.parent)],
      ['time', time(b.timestamp)],
      ['signer', h('span', { class: 'hash' }, b.signer)],
      ['size', bytes(b.size)],
      ['rows', count(b.row_count)],
      ['rows root', h('span', { class: 'hash' }, b.rows_root)],
      ['seal', h('span', { class: 'hash' }, b.seal)],
      ['seal check', seal],
      ...described(b)
    ]))
  void checkSeal(b, s.chain_id).then(r => { fill(seal, r) })
  // Live, so are the heading's mark and the link to the next block: there once one is built on this
  // one, gone once a reorg abandons it.
  followBlock(standing, b, s, signal, (canonical, tip) => {
    fill(side, canonical ? null : ' (side branch: not canonical)')
    const next = nav.querySelector('#next-block')
    if (canonical && tip > b.height && next === null) nav.insertBefore(nextLink(b.height), nav.querySelector('a.button'))
    if (!canonical) next?.remove()
  }, byHeight
    ? (there, reorg) => {
        replaced = { height: b.height, hash: b.hash, reorg, at: new Date().toISOString() }
        navigate(location.pathname + location.search + location.hash, { replace: true })
      }
    : undefined)

  main.append(h('h2', null, `Tables (${b.tables.length})`))
  main.append(b.tables.length === 0
    ? h('p', { class: 'muted' }, 'No user tables in this block.')
    : h('div', { class: 'scroll' }, h('table', null,
      h('thead', null, h('tr', null, h('th', null, 'table'), h('th', { class: 'num' }, 'rows'), h('th', null, 'Merkle root'), h('th', null, 'schema'))),
      h('tbody', null, b.tables.map(t => h('tr', null,
        h('td', null, h('a', { href: `/blocks/${b.height}?table=${encodeURIComponent(t.name)}#rows` }, t.name)),
        h('td', { class: 'num' }, count(t.rows)),
        h('td', { class: 'hash' }, t.root),
        h('td', null, h('details', null, h('summary', null, 'CREATE TABLE'), h('pre', { class: 'mono' }, t.sql)))))))))

  if (b.key_ops.length > 0) {
    main.append(h('h2', null, `Key operations (${b.key_ops.length})`), h('div', { class: 'scroll' }, h('table', null,
      h('thead', null, h('tr', null, ['operation', 'key', 'endorsed by'].map(x => h('th', null, x)))),
      h('tbody', null, b.key_ops.map(k => h('tr', null, h('td', null, k.op), h('td', { class: 'hash', title: k.public_key }, k.key_id),
        h('td', null, k.endorsed_by.map(e => h('div', null, keyId(e))))))))))
  }

  const which = url.searchParams.get('table')
  const t = b.tables.find(x => x.name === which) ?? (which === null ? b.tables[0] : undefined)
  if (t === undefined) {
    // A link to a table this block does not have showed nothing at all.
    if (which !== null) main.append(h('p', { id: 'no-table', class: 'error', role: 'alert' }, `Block #${b.height} has no table ${JSON.stringify(which)}${b.tables.length > 0 ? ': its tables are listed above' : ''}.`))
    return
  }
  const rows = h('section', { id: 'rows', 'aria-label': `rows of ${t.name}` })
  main.append(rows)
  await rowsBrowser(rows, b, t, url, signal)
  if (url.hash === '#rows') rows.scrollIntoView()
}

/** What a page opened by height says when a reorg put another block at its height while it was open. */
function changed (was: NonNullable<typeof replaced>): HTMLElement {
  const r = was.reorg
  return h('p', { id: 'block-changed', class: 'banner warn', role: 'status' },
    `The block at #${was.height} changed `, time(was.at), `: ${r === undefined ? 'a reorganisation' : `a reorganisation (the chain went from #${r.from.height} to #${r.to.height}, forking after #${r.fork.height})`} abandoned the block this page showed, `,
    h('a', { id: 'block-before', class: 'hash', href: `/blocks/${was.hash}` }, was.hash.slice(0, 16) + '…'),
    `, which is on a side branch now. This is the canonical chain's block #${was.height}: a page opened by height shows the block at that height; one opened by a block's hash follows that block.`)
}

function nextLink (height: number): HTMLElement {
  return h('a', { href: `/blocks/${height + 1}`, rel: 'next', id: 'next-block' }, `Next #${height + 1} →`)
}

/**
 * `_meta` Description, and the origin a re-seal's mark names, linked: a re-seal's own page said
 * nothing of the orphaned block whose rows it carries (the API has answered both since reseal49).
 */
function described (b: Block): Array<[string, Child]> {
  const out: Array<[string, Child]> = []
  if (b.description !== undefined && b.description !== '') out.push(['description', h('span', { class: 'pre', id: 'description' }, b.description)])
  if (b.reseal_of !== undefined) {
    out.push(['re-seal of', h('span', null, h('a', { class: 'hash', id: 'reseal-of', href: `/blocks/${b.reseal_of}` }, b.reseal_of),
      h('span', { class: 'muted' }, ' (the block first published with this content)'))])
  }
  return out
}

/** The seal, checked with WebCrypto against the signer's key the node names. */
async function checkSeal (b: Block, chainId: string): Promise<Child> {
  if (b.signer_public_key === undefined) return h('span', { class: 'muted' }, 'not checked: the node does not know the signer\'s key')
  // Daisy's seal signs the raw block hash as a digest, which WebCrypto cannot take (it always hashes).
  if (b.version !== 2) return h('span', { class: 'muted' }, `not checked here: a version ${b.version} (Daisy) seal signs the raw hash, which WebCrypto cannot check; the node checked it when it stored the block (petal verify checks it again)`)
  const spki = fromHex(b.signer_public_key)
  const der = fromHex(b.seal)
  if (spki === undefined || der === undefined) return h('span', { class: 'bad' }, '✗ the seal or key is not hex')
  // The genesis seals with an empty chain id: its own hash is the chain id (docs/block-format.md).
  const message = `petal/v2/seal\n${b.height === 0 ? '' : chainId}\n${b.height}\n${b.hash}\n${b.rows_root}`
  try {
    return await verifyP256(spki, utf8(message), der, { lowS: true })
      ? h('span', { class: 'ok', id: 'seal-ok' }, '✓ valid: signed by the signer\'s key over this hash and rows root (checked in your browser)')
      : h('span', { class: 'bad', id: 'seal-bad' }, '✗ invalid: the seal does not verify with the signer\'s key')
  } catch (err) {
    return h('span', { class: 'muted' }, `not checked: ${err instanceof Error ? err.message : String(err)}`)
  }
}

async function rowsBrowser (section: HTMLElement, b: Block, t: Block['tables'][number], url: URL, signal: AbortSignal): Promise<void> {
  const after = url.searchParams.get('after')
  const offset = url.searchParams.get('offset')
  const q = new URLSearchParams({ limit: String(ROWS_PAGE) })
  if (after !== null && /^-?\d{1,19}$/.test(after)) q.set('after_rowid', after)
  if (offset !== null && /^\d{1,15}$/.test(offset)) q.set('offset', offset)
  const page = await getLossless(`${t.rows_url}?${q.toString()}`, signal)
  const columns = stringsOf(field(page, 'columns'))
  const sealed = new Set(stringsOf(field(page, 'encrypted_columns')))
  const list = field(page, 'rows')
  const data = Array.isArray(list) ? list.filter(Array.isArray) : []
  const byRowid = field(page, 'paging') !== 'position'
  const next = byRowid ? field(page, 'next_after_rowid') : field(page, 'next_offset')
  const out = h('div', { 'aria-live': 'polite' })
  const base = `/blocks/${b.height}?table=${encodeURIComponent(t.name)}`
  const numeric = columns.map((_, i) => numericColumn(data, i))
  // `after` is the last rowid of the page before: this page starts past it (it said "from rowid 50" over rowids 51…).
  const at = byRowid ? (after === null ? 'from the first row' : `after rowid ${after}`) : `from position ${offset ?? '0'}`
  section.append(
    h('h2', null, `Rows of ${t.name}`),
    h('p', { class: 'muted' }, `${counted(t.rows, 'row')}; ${data.length} shown ${at}. NULL and BLOB values are marked as such.`),
    ...encryptedNote(sealed, stringsOf(field(page, 'recipients'))),
    h('div', { class: 'scroll' }, h('table', null,
      h('thead', null, h('tr', null, columns.map((c, i) => h('th', { scope: 'col', class: numeric[i] === true ? 'num' : undefined }, c, sealed.has(c) ? h('span', { class: 'muted', title: 'encrypted' }, ' (encrypted)') : null)), byRowid ? h('th', null, h('span', { class: 'muted' }, 'proof')) : null)),
      h('tbody', null, data.map(r => h('tr', null,
        r.map((v, i) => h('td', { class: numeric[i] === true ? 'num' : undefined }, cell(v))),
        byRowid ? h('td', null, h('button', { class: 'small', type: 'button', onclick: () => { void prove(b, t.name, String(r[0]), out) } }, 'prove')) : null))))),
    h('nav', { class: 'pager', 'aria-label': 'Row pages' },
      after !== null || offset !== null ? h('a', { href: `${base}#rows` }, '⇤ First rows') : null,
      typeof next === 'string' || next instanceof JsonNumber ? h('a', { href: `${base}&${byRowid ? 'after' : 'offset'}=${String(next)}#rows`, rel: 'next' }, 'Next rows →') : null),
    out)
}

/**
 * Which columns of the table this block encrypts, and for whom: their values are sealed BLOBs that
 * no page of the node decrypts (docs/confidential.md). A reader saw a BLOB in a TEXT column and
 * nothing to say why, nor how a recipient reads it (user51).
 */
function encryptedNote (sealed: ReadonlySet<string>, recipients: readonly string[]): HTMLElement[] {
  if (sealed.size === 0) return []
  const names = [...sealed].join(', ')
  return [h('p', { id: 'encrypted-note', class: 'muted' },
    `${sealed.size === 1 ? 'Column' : 'Columns'} ${names} ${sealed.size === 1 ? 'is' : 'are'} encrypted in this block for ${recipients.length} recipient key${recipients.length === 1 ? '' : 's'} (`,
    ...recipients.flatMap((r, i) => [i === 0 ? null : ', ', keyId(r)]),
    '): shown here as the sealed BLOBs, which the node\'s API never decrypts (its answers are the same for every reader). A recipient reads the plaintext on its own node, with ',
    h('code', null, 'petal query'), ' or ', h('code', null, 'petal export'), ' (docs/confidential.md).')]
}

/** "prove this row": the proof from the node (GET …/rows/{rowid}/proof), or the command that makes it. */
async function prove (b: Block, table: string, rowid: string, out: HTMLElement): Promise<void> {
  fill(out, h('p', { class: 'muted' }, `Proving row ${rowid} of ${table}…`))
  const name = `proof-${b.height}-${table.replace(/[^\w.-]+/g, '_')}-${rowid}.json`
  try {
    const text = await getText(`/api/v1/blocks/${b.hash}/tables/${encodeURIComponent(table)}/rows/${rowid}/proof`)
    download(name, new Blob([text], { type: 'application/json' }))
    // Not a secret: the verifier page picks it up from this tab.
    sessionStorage.setItem('petal.proof', text)
    fill(out, h('div', { class: 'banner ok', role: 'status' }, `Saved ${name}. `, h('a', { href: '/verify' }, 'Check it in the browser →'),
      ' or run ', h('code', null, `petal verify-proof ${name} --trust KEYS`)))
  } catch (err) {
    if (err instanceof ApiFailure && err.code === 'API_NOT_FOUND') {
      // This node does not serve proofs (yet): the CLI makes the same document.
      fill(out, h('div', { class: 'card', role: 'status' },
        h('p', null, 'This node does not serve proofs over HTTP. Make the proof with the CLI on the node\'s machine:'),
        h('pre', { class: 'cmd' }, `petal prove --height ${b.height} --table ${shellWord(table)} --rowid ${rowid} -o ${name}\npetal verify-proof ${name} --trust KEYS`),
        h('p', null, 'Then check it here: ', h('a', { href: '/verify' }, 'verify a proof'), '.')))
      return
    }
    fill(out, errorBox(err))
  }
}

function shellWord (s: string): string {
  return /^[\w.-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}

function field (o: Lossless, k: string): Lossless | undefined {
  return typeof o === 'object' && o !== null && !Array.isArray(o) && !(o instanceof JsonNumber) ? o[k] : undefined
}

function stringsOf (v: Lossless | undefined): string[] {
  return Array.isArray(v) ? v.map(x => (typeof x === 'string' ? x : String(x))) : []
}
