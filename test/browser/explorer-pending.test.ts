import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Ingest } from '../../src/ingest/index.js'
import { trySealLock } from '../../src/ingest/seal-lock.js'
import type { PetalNode } from '../../src/node/index.js'
import { CHROMIUM, NO_CHROMIUM, launchBrowser, openPage } from '../helpers/browser.js'
import { fixtureKey, newTestChain } from '../helpers/chain.js'
import { startNode, stopAll } from '../helpers/network.js'

// The explorer's home page showed nothing of the rows a node holds to seal, though GET
// /api/v1/status has had them since session 48 (user49): a person without a terminal could not
// see that a write was received and when it would be sealed. It shows them, live.
let node: PetalNode
let browser: Browser
let page: Page
let errors: string[]
let dir: string

describe.skipIf(CHROMIUM === undefined)(`the explorer's pending rows${NO_CHROMIUM}`, () => {
  beforeAll(async () => {
    const alice = fixtureKey('alice')
    const t = await newTestChain({ key: alice })
    t.chain.close()
    dir = t.dir
    // Sealed at 6 rows pending, or once the oldest is an hour old.
    node = await startNode(dir, { name: 'N', key: alice, discovery: false, ingest: { everyMs: 3_600_000, rows: 6 }, http: { address: { host: '127.0.0.1', port: 0 } } })
    browser = await launchBrowser()
    ;({ page, errors } = await openPage(browser))
  })

  afterAll(async () => {
    await browser?.close()
    await stopAll()
  })

  it('/: count, bytes, oldest age, seal policy and next seal, updated without a reload as rows come and are sealed', async () => {
    const ingest = node.ingest
    if (ingest === undefined) throw new Error('the node has no ingest service')
    await ingest.append('readings', [{ v: 1n }, { v: 2n }])
    await page.goto(node.httpUrl ?? '')
    const rows = page.locator('#pending-rows')
    await rows.filter({ hasText: /^2$/ }).waitFor()
    const panel = page.locator('#pending')
    expect(await panel.innerText()).toMatch(/once the oldest pending row is 1 h 0 min old, or as soon as 6 rows are pending/)
    await page.locator('#next-seal').filter({ hasText: /^in 59 min \d+ s$/ }).waitFor()
    // The key this node seals with: said beside its peer id, and its signatory's row names this node
    // (api54: the row said "none known to this node", and the page did not say which key the node holds).
    expect(await page.locator('#signers .self-node').innerText()).toBe('this node')
    expect(await page.locator('#node-peers').innerText()).toMatch(/signing key\s+1:9cbe5fb7…\s+an active signatory: it seals/)
    // A seal at work in another process (`petal seal`: it holds the seal lock) has claimed them:
    // still pending, and said to be claimed. The page said 0 pending while a seal built its block (api54).
    const lock = trySealLock(dir)
    if (lock === undefined) throw new Error('the seal lock is held')
    const store = (ingest as Ingest).store
    expect(await store.write(() => store.claim(1 << 30, 100, Date.now()))).toMatchObject({ rows: 2 })
    const claimed = page.locator('#claimed-rows')
    await claimed.filter({ hasText: /^, 2 of them claimed by a seal at work/ }).waitFor()
    expect(await rows.innerText()).toBe('2')
    // More rows: the page shows them without a reload.
    await ingest.append('readings', [{ v: 3n }, { v: 4n }, { v: 5n }, { v: 6n }])
    await rows.filter({ hasText: /^6$/ }).waitFor()
    expect(await claimed.innerText()).toMatch(/^, 2 of them/)
    // That seal ends (stopped part-way): the node's seal loop takes its rows back and seals all six.
    lock.release()
    await rows.filter({ hasText: /^0$/ }).waitFor()
    expect(await claimed.count()).toBe(0)
    expect(await panel.innerText()).toMatch(/6 rows, last in block #1/)
    expect(errors.filter(e => !e.includes('Failed to load resource'))).toEqual([])
  })

  // A person holding a receipt id had no way to its proof in a browser: no page asked for it
  // (explorer53). /verify fetches it from the node that serves the page, and says why not yet.
  it('/verify: the proof of a receipt, fetched from the node: "not sealed yet" in the page\'s terms, then checked', async () => {
    const ingest = node.ingest
    if (ingest === undefined) throw new Error('the node has no ingest service')
    const [receipt] = (await ingest.append('readings', [{ v: 7n }])).receipts
    await page.goto(`${node.httpUrl ?? ''}verify`)
    const note = page.locator('#receipt-note')
    await page.locator('#receipt').fill('no-such-receipt')
    await page.locator('#receipt').press('Enter')
    await note.filter({ hasText: 'INGEST_UNKNOWN_RECEIPT' }).waitFor()
    expect(await note.innerText()).toContain('Hint: a receipt is answered only by the node that acknowledged its rows: open this page on that node')
    await page.locator('#receipt').fill(receipt ?? '')
    await page.locator('#receipt-fetch').click()
    await note.filter({ hasText: 'PROOF_ROW_PENDING' }).waitFor()
    expect(await note.innerText()).toContain('Hint: its row waits to be sealed into a block: fetch the proof again after the next seal (this node\'s home page says when it is due)')
    expect(await note.innerText()).not.toContain('/api/v1/events')
    // Five more rows seal the six; the node signs its tip's checkpoint, then the proof is there.
    await ingest.append('readings', [{ v: 8n }, { v: 9n }, { v: 10n }, { v: 11n }, { v: 12n }])
    await expect.poll(async () => {
      await page.locator('#receipt-fetch').click()
      await note.filter({ hasNotText: 'Asking this node' }).waitFor()
      return await note.innerText()
    }, { timeout: 20_000, interval: 500 }).toContain('is in "Proof (JSON)"')
    await page.locator('#use-node-signers').click()
    await page.locator('#signers-note').filter({ hasText: '1 active signatory' }).waitFor()
    await page.locator('#check').click()
    await page.locator('#verdict-ok').waitFor()
    expect(await page.locator('#report table tbody td').allInnerTexts()).toEqual(['7'])
  })
})
