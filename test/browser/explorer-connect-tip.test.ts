import type { Browser, Page } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { CHROMIUM, NO_CHROMIUM, launchBrowser, openPage, screenshot } from '../helpers/browser.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { startNode, stopAll } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'

// The live pages took the tip event the stream sends on connecting for the tip they already showed.
// A block sealed between the page's status read and the stream's opening was missed until the next
// block came: the block page said "the tip" of a block with one built on it, and `/` showed the old
// tip, for as long as the chain stood still (review54b). The stream is held here until a block has
// been sealed after the page drew itself; once it opens, both pages must show that block.
const alice = fixtureKey('alice')
let browser: Browser | undefined
afterAll(async () => {
  await browser?.close()
  await stopAll()
})

/** Holds `page`'s GET /api/v1/events until `release` is called; `asked` resolves once the page asks. */
async function holdEvents (page: Page): Promise<{ asked: Promise<void>, release: () => void }> {
  let asked!: () => void
  let release!: () => void
  const askedP = new Promise<void>(resolve => { asked = resolve })
  const released = new Promise<void>(resolve => { release = resolve })
  await page.route('**/api/v1/events', async route => {
    asked()
    await released
    await route.continue()
  })
  return { asked: askedP, release }
}

describe.skipIf(CHROMIUM === undefined)(`the live pages and a block sealed before their stream opened${NO_CHROMIUM}`, () => {
  it('the block page and / show the block the stream\'s first tip names', async () => {
    const work = tmpDir()
    const { chain, dir } = await newTestChain({ key: alice })
    chain.close()
    const a = await startNode(dir, { name: 'A', key: alice, http: { address: { host: '127.0.0.1', port: 0 } } })
    browser = await launchBrowser()
    const { page: block, errors: blockErrors } = await openPage(browser)
    const { page: home, errors: homeErrors } = await openPage(browser)
    const heldBlock = await holdEvents(block)
    const heldHome = await holdEvents(home)

    await block.goto(`${a.httpUrl ?? ''}blocks/0`)
    await block.locator('#block-state[data-state="tip"]').waitFor()
    await home.goto(a.httpUrl ?? '')
    expect(await home.locator('#tip-height').innerText()).toBe('#0')
    await Promise.all([heldBlock.asked, heldHome.asked])

    // Sealed while neither page has its stream: no event reaches them but the one on connecting.
    await a.publish(makeSqlite(join(work, 'a1.db'), 2, 100))
    heldBlock.release()
    heldHome.release()

    await block.locator('#block-state[data-state="confirming"]').filter({ hasText: /^1 block built on it \(the tip: #1\)/ }).waitFor({ timeout: 20_000 })
    await home.locator('#tip-height').filter({ hasText: /^#1$/ }).waitFor({ timeout: 20_000 })
    await screenshot(block, 'connect-tip-block')
    await screenshot(home, 'connect-tip-home')
    expect([...blockErrors, ...homeErrors].filter(e => !e.includes('Failed to load resource'))).toEqual([])
  }, 60_000)
})
