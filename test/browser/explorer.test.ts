import { readFileSync, writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TokenStore } from '../../src/api/index.js'
import type { Chain } from '../../src/chain/index.js'
import { publicKeyToPem, type SigningKey } from '../../src/crypto/index.js'
import { buildRowProof, createCheckpoint } from '../../src/proof/index.js'
import { http, postJson, startTestApi } from '../helpers/api.js'
import { NO_CHROMIUM, CHROMIUM, openPage, screenshot } from '../helpers/browser.js'
import { closeExplorer, pageErrorsOf, startExplorer, type ExplorerFixture } from '../helpers/explorer.js'
import { extendChain, fixtureKey } from '../helpers/chain.js'
import { chainTreeOf } from '../helpers/proof.js'
import { tmpDir } from '../helpers/tmp.js'

// The web explorer against a real node: real blocks (one with every kind of value), one headless
// Chromium for the whole file. Screenshots of each page go to test-output/screenshots.
let fixture: ExplorerFixture | undefined
let chain: Chain
let key: SigningKey
let typed: number
let base: string
let browser: Browser
let page: Page
let errors: string[]

const pageErrors = (): string[] => pageErrorsOf(errors)
const go = async (path: string): Promise<void> => { await page.goto(base + path.slice(1)) }

describe.skipIf(CHROMIUM === undefined)(`web explorer in headless Chromium${NO_CHROMIUM}`, () => {
  beforeAll(async () => {
    fixture = await startExplorer()
    ;({ chain, key, typed, base, browser, page, errors } = fixture)
  })

  afterAll(async () => { await closeExplorer(fixture) })

  it('/ shows the chain at a glance: tip, chain id, consensus, signatories, chart, latest blocks', async () => {
    await go('/')
    const tip = chain.tip()
    await page.locator('#tip-height').filter({ hasText: `#${tip.height}` }).waitFor()
    const text = await page.locator('main').innerText()
    expect(text).toContain(chain.chainId)
    expect(text).toContain('key operation needs')
    // The signatory's key id, shortened as every key id on the page, whole in its tooltip (explorer53).
    expect(await page.locator(`main table:has(th:text("added at")) .hash[title="${key.id}"]`).innerText()).toBe(`${key.id.slice(0, 10)}…`)
    expect(await page.locator('svg.chart rect').count()).toBeGreaterThan(0)
    // The latest blocks, newest first.
    const heights = await page.locator('main table').nth(0).locator('tbody tr td:first-child').allInnerTexts()
    expect(heights.slice(0, 3)).toEqual([tip.height, tip.height - 1, tip.height - 2].map(h => `#${h}`))
    // Each signatory with the block, and the time, that added it.
    const genesisTime = (chain.get(0)?.timestamp ?? '').replace('T', ' ').replace(/\.\d+Z$/, 'Z')
    await page.locator('main table').nth(1).locator('tbody tr').filter({ has: page.locator(`.hash[title="${key.id}"]`) }).filter({ hasText: `#0 ${genesisTime}` }).waitFor()
    await screenshot(page, 'home', { docs: true })
    expect(pageErrors()).toEqual([])
  })

  it('a new block appears on / without a reload (server-sent events)', async () => {
    await go('/')
    const before = chain.tip().height
    await page.locator('#tip-height').filter({ hasText: `#${before}` }).waitFor()
    await page.locator('.live').filter({ hasText: 'live' }).waitFor()
    await page.evaluate('window.samePage = true')
    await extendChain(chain, key, 1)
    await page.locator('#tip-height').filter({ hasText: `#${before + 1}` }).waitFor()
    await page.locator('main table tbody tr td:first-child').filter({ hasText: `#${before + 1}` }).waitFor()
    expect(await page.evaluate('window.samePage')).toBe(true)
  })

  it('/blocks lists blocks newest first with size, tables and rows; keyboard alone opens one', async () => {
    await go('/blocks')
    const tip = chain.tip().height
    const rows = page.locator('main table tbody tr')
    await rows.first().waitFor()
    expect(await rows.count()).toBe(tip + 1)
    const typedRow = rows.nth(tip - typed)
    expect(await typedRow.locator('td').nth(0).innerText()).toBe(`#${typed}`)
    const cells = await typedRow.locator('td').allInnerTexts()
    expect(cells.slice(4, 6)).toEqual(['3', String(chain.index.tablesOf(chain.get(typed)?.hash ?? '').reduce((n, t) => n + t.rows, 0))])
    await screenshot(page, 'blocks', { docs: true })
    // Tab from the top of the page to the first block, down two with the arrow key, Enter.
    await page.locator('body').focus()
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press('Tab')
      if (await page.evaluate('document.activeElement.classList.contains("block-link")') === true) break
    }
    expect(await page.evaluate('document.activeElement.textContent')).toBe(`#${tip}`)
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('ArrowDown')
    expect(await page.evaluate('document.activeElement.textContent')).toBe(`#${tip - 2}`)
    await page.keyboard.press('Enter')
    await page.waitForURL(`**/blocks/${tip - 2}`)
    await page.locator('h1').filter({ hasText: `Block #${tip - 2}` }).waitFor()
    expect(pageErrors()).toEqual([])
  })

  it('/blocks/{height}: header, the seal checked in the browser, tables with roots, rows with NULL, BLOB and exact integers', async () => {
    const b = chain.get(typed)
    if (b === undefined) throw new Error('no typed block')
    await go(`/blocks/${typed}?table=people`)
    await page.locator('#seal-ok').waitFor()
    const text = await page.locator('main').innerText()
    for (const s of [b.hash, b.parent, b.rowsRoot, b.seal]) expect(text).toContain(s)
    for (const t of chain.index.tablesOf(b.hash)) expect(text).toContain(t.root)
    // The rows browser, on the table the URL names: values exactly as stored.
    const table = page.locator('#rows table')
    await table.waitFor()
    const rowsText = await table.innerText()
    expect(rowsText).toContain('9223372036854775807')
    expect(rowsText).toContain('-9223372036854775808')
    expect(rowsText).toContain('9007199254740993') // above 2^53: a double would print …992
    expect(await table.locator('.null').count()).toBeGreaterThan(0)
    expect(await table.locator('.blob').first().innerText()).toMatch(/^BLOB/)
    expect(await table.locator('.empty').count()).toBeGreaterThan(0) // the empty text, not NULL
    expect(await page.evaluate('getComputedStyle(document.querySelector("#rows td.num")).textAlign')).toBe('right')
    // The download link serves the block file itself.
    const href = await page.locator('a[download]').first().getAttribute('href')
    const file = await http(base + (href ?? '').slice(1))
    expect(file.headers['petal-block-hash']).toBe(b.hash)
    await screenshot(page, 'block', { docs: true })
    // By hash prefix too (the rows of its first table), and another table through its link.
    await go(`/blocks/${b.hash.slice(0, 12)}`)
    await page.locator('a', { hasText: 'tags' }).click()
    await page.locator('#rows h2').filter({ hasText: 'Rows of tags' }).waitFor()
    expect(await page.locator('#rows table').innerText()).toContain('a')
    expect(pageErrors()).toEqual([])
  })

  it('/blocks/{ref}: a seal that does not verify is shown as invalid', async () => {
    const b = chain.get(typed)
    await page.route(`**/api/v1/blocks/${typed}`, async route => {
      const r = await route.fetch()
      const j = await r.json() as Record<string, unknown>
      // Another valid signature of the same key, over another block: right key, wrong message.
      await route.fulfill({ response: r, json: { ...j, seal: chain.get(typed - 1)?.seal } })
    })
    await go(`/blocks/${typed}`)
    await page.locator('#seal-bad').waitFor()
    await page.unroute(`**/api/v1/blocks/${typed}`)
    expect(b?.seal).not.toBe(chain.get(typed - 1)?.seal)
  })

  it('/blocks/{ref}: a Daisy (version 1) seal is said to be unchecked here, never called invalid', async () => {
    await page.route(`**/api/v1/blocks/${typed}`, async route => {
      const r = await route.fetch()
      await route.fulfill({ response: r, json: { ...(await r.json() as Record<string, unknown>), version: 1 } })
    })
    await go(`/blocks/${typed}`)
    await page.locator('dd').filter({ hasText: 'a version 1 (Daisy) seal signs the raw hash' }).waitFor()
    expect(await page.locator('#seal-bad').count()).toBe(0)
    await page.unroute(`**/api/v1/blocks/${typed}`)
  })

  it('/blocks/{ref}: an unknown block is an error with its code and hint', async () => {
    await go('/blocks/99999')
    const err = page.locator('.error')
    await err.waitFor()
    expect(await err.innerText()).toMatch(/API_BLOCK_NOT_FOUND[\s\S]*Hint: give a height/)
  })

  it('"prove" saves the proof the node serves, and /verify opens with it and accepts it', async () => {
    await go(`/blocks/${typed}?table=people`)
    const row = page.locator('#rows tbody tr').filter({ has: page.locator('td:first-child', { hasText: /^2$/ }) })
    const [download] = await Promise.all([page.waitForEvent('download'), row.locator('button').click()])
    expect(download.suggestedFilename()).toBe(`proof-${typed}-people-2.json`)
    const proof: unknown = JSON.parse(readFileSync(await download.path(), 'utf8'))
    expect(proof).toMatchObject({ petal_proof: 1, chain_id: chain.chainId })
    await page.locator('a', { hasText: 'Check it in the browser' }).click()
    await page.waitForURL('**/verify')
    expect(JSON.parse(await page.locator('#proof').inputValue())).toEqual(proof)
    await page.locator('#trust').fill(publicKeyToPem(key.publicKey))
    await page.locator('#check').click()
    await page.locator('#verdict-ok').waitFor()
    expect(await page.locator('#report').innerText()).toContain('-9223372036854775808')
    expect(pageErrors()).toEqual([])
  })

  // docs/explorer.md: trust "the signatories' public keys … or a checkpoint you trusted earlier". The
  // page always asked for 1 trusted signature, so a checkpoint alone was rejected (SIGNATURE_UNTRUSTED)
  // where `petal verify-proof --trust CHECKPOINT` accepts the same proof (user50).
  it('/verify accepts a proof against a checkpoint trusted alone, as verify-proof does', async () => {
    const proof = (await http(`${base}api/v1/blocks/${typed}/tables/people/rows/2/proof`)).body.toString()
    const note = (JSON.parse((await http(`${base}api/v1/checkpoint`)).body.toString()) as { note: string }).note
    await go('/verify')
    await page.locator('#proof').fill(proof)
    await page.locator('#trust').fill(note)
    await page.locator('#check').click()
    await page.locator('#verdict-ok').waitFor()
    // Asking for a signature by a trusted key, with none given, is still refused.
    await page.locator('#min-signatures').fill('1')
    await page.locator('#check').click()
    expect(await page.locator('#verdict-bad').innerText()).toContain('SIGNATURE_UNTRUSTED')
    // With what to do, in the page's terms (it showed the code and message alone).
    expect(await page.locator('#rejection-hint').innerText()).toContain('"Trusted keys or checkpoint"')
    expect(pageErrors()).toEqual([])
  })

  it('"prove" on a node that serves no proofs shows the command that makes one', async () => {
    const hash = chain.get(typed)?.hash ?? ''
    const path = `**/api/v1/blocks/${hash}/tables/people/rows/3/proof`
    // What a node without the proof endpoints answers.
    await page.route(path, async route => { await route.fulfill({ status: 404, json: { error: { code: 'API_NOT_FOUND', message: 'no such endpoint' } } }) })
    await go(`/blocks/${typed}?table=people`)
    const row = page.locator('#rows tbody tr').filter({ has: page.locator('td:first-child', { hasText: /^3$/ }) })
    await row.locator('button').click()
    const cmd = page.locator('pre.cmd')
    await cmd.waitFor()
    expect(await cmd.innerText()).toContain(`petal prove --height ${typed} --table people --rowid 3 -o proof-${typed}-people-3.json`)
    await page.unroute(path)
  })

  it('/query: a statement from the URL, results exact (big integers right-aligned, NULL apart from empty text), row count and time', async () => {
    await go(`/query?sql=${encodeURIComponent('SELECT id, name, big, photo FROM people ORDER BY id')}`)
    const table = page.locator('#result-table')
    await table.waitFor()
    expect(await page.locator('#row-count').innerText()).toBe('6 rows')
    const text = await table.innerText()
    for (const v of ['9223372036854775807', '-9223372036854775808', '9007199254740993']) expect(text).toContain(v)
    expect(await table.locator('tbody tr').nth(5).locator('td').nth(1).innerText()).toBe('""') // id 5: empty text
    expect(await table.locator('tbody tr').nth(4).locator('td .null').count()).toBe(1) // id 4: NULL name
    expect(await table.locator('thead th').nth(2).getAttribute('class')).toBe('num')
    expect(await page.locator('#sql').inputValue()).toBe('SELECT id, name, big, photo FROM people ORDER BY id')
    await screenshot(page, 'query', { docs: true })
    expect(pageErrors()).toEqual([])
  })

  it('/query: the CSV download is the node\'s CSV of the statement', async () => {
    const sql = 'SELECT id, name, score, photo FROM people ORDER BY id'
    await go(`/query?sql=${encodeURIComponent(sql)}`)
    await page.locator('#result-table').waitFor()
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#csv').click()])
    expect(download.suggestedFilename()).toBe('query.csv')
    const csv = readFileSync(await download.path(), 'utf8')
    expect(csv).toBe((await postJson(`${base}api/v1/query`, { sql, format: 'csv' })).text)
    expect(csv.split('\r\n')[0]).toBe('id,name,score,photo')
  })

  it('/query: an error is shown with its code and hint; typed statements run with Ctrl+Enter and go to the URL and the history', async () => {
    await go(`/query?sql=${encodeURIComponent('SELEC 1')}`)
    const err = page.locator('.error')
    await err.waitFor()
    expect(await err.innerText()).toMatch(/QUERY_SYNTAX[\s\S]*Hint: /)
    await screenshot(page, 'query-error', { docs: true })
    await page.locator('#sql').fill('SELECT COUNT(*) AS n FROM people')
    await page.locator('#per-block').check()
    await page.locator('#sql').press('Control+Enter')
    await page.waitForURL(u => u.searchParams.get('sql') === 'SELECT COUNT(*) AS n FROM people' && u.searchParams.get('per_block') === '1')
    await page.locator('#result-table').waitFor()
    // Per block: one row per block holding the table, each with its height.
    expect(await page.locator('#result-table thead th').allInnerTexts()).toEqual(['_height', 'n'])
    expect(await page.locator('#result-table tbody tr').first().locator('td').allInnerTexts()).toEqual([String(typed), '6'])
    const history = await page.locator('ul.history li').allInnerTexts()
    expect(history.slice(0, 2)).toEqual(['SELECT COUNT(*) AS n FROM people (per block)', 'SELEC 1'])
  })

  it('/verify: a valid proof is accepted step by step, with the node out of the way (the page saved to a file)', async () => {
    const tree = chainTreeOf(chain)
    const checkpoint = createCheckpoint({ chainId: chain.chainId, tree, tip: chain.tip().height, maxReorgDepth: 2, keys: [key] })
    const proof = await buildRowProof(chain.dir.blockPath(typed), { table: 'people', rowid: 3n }, { chainId: chain.chainId, tree, checkpoint })
    const work = tmpDir()
    writeFileSync(join(work, 'proof.json'), JSON.stringify(proof, null, 2))
    // The page as served, opened from disk: no node behind it, so everything runs in the browser.
    const html = await http(`${base}verify`)
    expect(html.headers['content-type']).toMatch(/^text\/html/)
    writeFileSync(join(work, 'verify.html'), html.body)
    await page.goto(pathToFileURL(join(work, 'verify.html')).href)
    await page.locator('#proof-file').setInputFiles(join(work, 'proof.json'))
    await page.waitForFunction('document.querySelector("#proof").value.length > 0')
    await page.locator('#trust').fill(publicKeyToPem(key.publicKey))
    await page.locator('#check').click()
    await page.locator('#verdict-ok').waitFor()
    const steps = await page.locator('ol.checks li').allInnerTexts()
    expect(steps.length).toBeGreaterThan(3)
    for (const s of steps) expect(s.startsWith('✓')).toBe(true)
    expect(await page.locator('#report').innerText()).toContain('9223372036854775807')
    await screenshot(page, 'verify', { docs: true })

    // The same proof with one value changed is rejected, and the page says which step failed.
    const forged = JSON.parse(JSON.stringify(proof)) as { row: { values: unknown[] } }
    forged.row.values[1] = { text: 'mallory' }
    await page.locator('#proof').fill(JSON.stringify(forged))
    await page.locator('#check').click()
    await page.locator('#verdict-bad').waitFor()
    expect(await page.locator('#verdict-bad').innerText()).toContain('ROW_INCLUSION_FAILED')
    expect(await page.locator('ol.checks li').last().innerText()).toMatch(/^✗/)
    await screenshot(page, 'verify-rejected')
    // And an untrusted key rejects the genuine proof.
    await page.locator('#proof').fill(JSON.stringify(proof))
    await page.locator('#trust').fill(publicKeyToPem(fixtureKey(key.id === fixtureKey('bob').id ? 'carol' : 'bob').publicKey))
    await page.locator('#check').click()
    await page.locator('#verdict-bad').waitFor()
    expect(pageErrors()).toEqual([])
  })

  it('pages are readable at a phone\'s width (no horizontal scroll of the page itself)', async () => {
    const phone = await openPage(browser, { width: 380 })
    for (const path of ['/', '/blocks', `/blocks/${typed}`, '/query', '/verify']) {
      await phone.page.goto(base + path.slice(1))
      await phone.page.locator('main h1').waitFor()
      expect(await phone.page.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1'), path).toBe(true)
    }
    await screenshot(phone.page, 'verify-phone')
    await phone.page.context().close()
  })

  it('a node that needs a read token: the page asks for it, keeps it in memory only, and sends it', async () => {
    // Exposed without --public-read (on loopback here): every API read needs a token.
    const exposed = await startTestApi({ dir: chain.dir.root, access: { expose: true } })
    try {
      const { token } = TokenStore.of(chain.dir.root).create({ scope: 'read', name: 'explorer-test' })
      await page.goto(`${exposed.url}blocks`)
      const err = page.locator('.error')
      await err.waitFor()
      expect(await err.innerText()).toContain('API_UNAUTHORIZED')
      await page.locator('#token').fill(token)
      await page.locator('#token').press('Enter')
      await page.locator('a.block-link').first().waitFor()
      // In-place navigation keeps it: a block page, then the home page (polling: EventSource cannot send it).
      await page.locator('a.block-link').first().click()
      await page.locator('#seal-ok').waitFor()
      await page.locator('header a.brand').click()
      await page.locator('.live').filter({ hasText: 'updating every 5 s' }).waitFor()
      const stored = String(await page.evaluate('JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie, location.href])'))
      expect(stored).not.toContain(token)
      // A reload forgets it.
      await page.reload()
      await page.locator('.error').filter({ hasText: 'API_UNAUTHORIZED' }).waitFor()
    } finally {
      await exposed.server.close()
    }
  })

  // A token revoked while / was open (an operator's tokens rotated): the page kept its data, and
  // said "reconnecting…" at each refused poll, for ever (user50). It now says why, and asks again.
  it('a token revoked while the page is open: the page says so and asks for a new one', async () => {
    const exposed = await startTestApi({ dir: chain.dir.root, access: { expose: true } })
    try {
      const tokens = TokenStore.of(chain.dir.root)
      const { token } = tokens.create({ scope: 'read', name: 'rotated' })
      await page.goto(exposed.url)
      await page.locator('#token').fill(token)
      await page.locator('#token').press('Enter')
      await page.locator('.live').filter({ hasText: 'updating every 5 s' }).waitFor()
      tokens.revoke('rotated')
      await page.locator('.error').filter({ hasText: 'unknown or revoked token' }).waitFor({ timeout: 15_000 })
      // The old data is gone with it, and nothing says it is being updated.
      expect(await page.locator('#tip-height').count()).toBe(0)
      expect(await page.locator('.live').innerText()).toBe('')
      const { token: next } = tokens.create({ scope: 'read', name: 'rotated-next' })
      await page.locator('#token').fill(next)
      await page.locator('#token').press('Enter')
      await page.locator('.live').filter({ hasText: 'updating every 5 s' }).waitFor()
      expect(await page.locator('.error').count()).toBe(0)
    } finally {
      await exposed.server.close()
    }
  }, 40_000)
})
