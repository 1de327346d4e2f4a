import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiServer } from '../../src/api/index.js'
import { signImport, type Chain } from '../../src/chain/index.js'
import type { SigningKey } from '../../src/crypto/index.js'
import { http, postJson, startTestApi } from '../helpers/api.js'
import { NO_CHROMIUM, CHROMIUM, launchBrowser, openPage, screenshot } from '../helpers/browser.js'
import { extendChain, makeSqlite } from '../helpers/chain.js'
import { provableChain } from '../helpers/proof.js'
import { tmpDir } from '../helpers/tmp.js'

// The web explorer against a real node: real blocks (one with every kind of value), one headless
// Chromium for the whole file. Screenshots of each page go to test-output/screenshots.
let chain: Chain
let key: SigningKey
let typed: number
let server: ApiServer
let base: string
let browser: Browser
let page: Page
let errors: string[]

/** Script and console errors, apart from the failed requests that tests of errors cause on purpose. */
function pageErrors (): string[] {
  return errors.filter(e => !e.includes('Failed to load resource'))
}

async function go (path: string): Promise<void> {
  await page.goto(base + path.slice(1))
}

describe.skipIf(CHROMIUM === undefined)(`web explorer in headless Chromium${NO_CHROMIUM}`, () => {
  beforeAll(async () => {
    const p = await provableChain()
    chain = p.chain
    key = p.key
    typed = p.typedHeight
    ;({ server, url: base } = await startTestApi({ dir: chain.dir.root }))
    browser = await launchBrowser()
    ;({ page, errors } = await openPage(browser))
  })

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    chain?.close()
  })

  it('/ shows the chain at a glance: tip, chain id, consensus, signatories, chart, latest blocks', async () => {
    await go('/')
    const tip = chain.tip()
    await page.locator('#tip-height').filter({ hasText: `#${tip.height}` }).waitFor()
    const text = await page.locator('main').innerText()
    expect(text).toContain(chain.chainId)
    expect(text).toContain('key operation needs')
    expect(text).toContain(key.id)
    expect(await page.locator('svg.chart rect').count()).toBeGreaterThan(0)
    // The latest blocks, newest first.
    const heights = await page.locator('main table').nth(0).locator('tbody tr td:first-child').allInnerTexts()
    expect(heights.slice(0, 3)).toEqual([tip.height, tip.height - 1, tip.height - 2].map(h => `#${h}`))
    await screenshot(page, 'home')
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
    await screenshot(page, 'blocks')
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
    await screenshot(page, 'block')
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

  it('/blocks/{ref}: an unknown block is an error with its code and hint', async () => {
    await go('/blocks/99999')
    const err = page.locator('.error')
    await err.waitFor()
    expect(await err.innerText()).toMatch(/API_BLOCK_NOT_FOUND[\s\S]*Hint: give a height/)
  })

  it('"prove" on a row: the proof from the node, or the command that makes it', async () => {
    await go(`/blocks/${typed}?table=people`)
    const row = page.locator('#rows tbody tr').filter({ has: page.locator('td:first-child', { hasText: /^3$/ }) })
    const served = (await http(`${base}api/v1/blocks/${typed}/tables/people/rows/3/proof`)).status === 200
    if (served) {
      const [download] = await Promise.all([page.waitForEvent('download'), row.locator('button').click()])
      const proof = JSON.parse(readFileSync(await download.path(), 'utf8')) as { version?: number }
      expect(proof.version).toBe(1)
    } else {
      await row.locator('button').click()
      const cmd = page.locator('pre.cmd')
      await cmd.waitFor()
      expect(await cmd.innerText()).toContain(`petal prove --height ${typed} --table people --rowid 3 -o proof-${typed}-people-3.json`)
    }
  })
})
