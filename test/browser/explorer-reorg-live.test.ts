import type { Browser, Page } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { signKeyOp } from '../../src/block/index.js'
import { Chain, signImport } from '../../src/chain/index.js'
import { CHROMIUM, NO_CHROMIUM, launchBrowser, openPage, screenshot } from '../helpers/browser.js'
import { fixtureKey, makeSqlite, newTestChain } from '../helpers/chain.js'
import { addrOf, cloneGenesis, startNode, stopAll, stopNode, waitConverged } from '../helpers/network.js'
import { tmpDir } from '../helpers/tmp.js'

// The block page did not update: on the tip block it never said that blocks were built on it or
// that it became final, and a reorg that abandoned the block shown left the page saying it was
// canonical (api54). A real reorg between two real nodes, walked live in Chromium: the page of the
// abandoned block says so, and that of the block below it becomes final. A page opened by height
// shows the canonical block at that height: after the reorg, the new one, saying that it changed
// (session 55; it kept following the block it first showed, as a page opened by hash does).
const alice = fixtureKey('alice')
const bob = fixtureKey('bob')
let browser: Browser | undefined
afterAll(async () => {
  await browser?.close()
  await stopAll()
})

const state = async (page: Page, s: string): Promise<string> => {
  const el = page.locator(`#block-state[data-state="${s}"]`)
  await el.waitFor({ timeout: 30_000 })
  return await el.innerText()
}

describe.skipIf(CHROMIUM === undefined)(`the block page, live through a reorg${NO_CHROMIUM}`, () => {
  it('new blocks on it, its abandonment by a longer branch, and the block below becoming final', async () => {
    const work = tmpDir()
    // Alice and bob are signatories (bob from block 1); a reorg may go 3 blocks deep.
    const { chain, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 3 } })
    await signImport(chain, makeSqlite(join(work, 'k.db'), 1, 0), alice, { keyOps: [signKeyOp(alice, chain.chainId, 'A', bob.publicKey)] })
    chain.close()
    const dirB = await cloneGenesis({ params: chain.params, genesisFile: join(dir, '0000', 'block_00000000.db') })
    const a = await startNode(dir, { name: 'A', key: alice, http: { address: { host: '127.0.0.1', port: 0 } } })
    const b = await startNode(dirB, { name: 'B', key: bob, bootstrap: [addrOf(a)] })
    await waitConverged([a, b], { height: 1 })
    await stopNode(b)

    // A alone publishes block 2: its page says it is the tip, block 1's that one block is built on it.
    const mine = (await a.publish(makeSqlite(join(work, 'a2.db'), 2, 100))).block
    browser = await launchBrowser()
    const { page, errors } = await openPage(browser)
    const { page: below, errors: belowErrors } = await openPage(browser)
    const { page: byHeight, errors: byHeightErrors } = await openPage(browser)
    // Opened by its hash, the page follows that block; opened by height, the block at that height.
    await page.goto(`${a.httpUrl ?? ''}blocks/${mine.hash}`)
    expect(await state(page, 'tip')).toMatch(/^The tip of the chain: no block built on it yet\. Final once 3 are; until then a reorganisation can abandon it\.$/)
    await screenshot(page, 'reorg-live-1-tip')
    await below.goto(`${a.httpUrl ?? ''}blocks/1`)
    expect(await state(below, 'confirming')).toMatch(/^1 block built on it \(the tip: #2\)\. Final once 3 are/)
    await byHeight.goto(`${a.httpUrl ?? ''}blocks/2`)
    expect(await state(byHeight, 'tip')).toMatch(/^The tip of the chain/)

    // A block on it: both pages say so without a reload.
    await a.publish(makeSqlite(join(work, 'a3.db'), 2, 200))
    await page.locator('#block-state').filter({ hasText: /^1 block built on it \(the tip: #3\)\. Final once 3 are/ }).waitFor()
    await below.locator('#block-state').filter({ hasText: /^2 blocks built on it \(the tip: #3\)/ }).waitFor()
    // And the link to the next block, which the page drew at load only.
    expect(await page.locator('#next-block').innerText()).toBe('Next #3 →')
    await screenshot(page, 'reorg-live-2-built-on')

    // Meanwhile B, cut off, signed a longer branch from block 1 (2 to 5); once back, A takes it.
    const side = Chain.open(dirB)
    for (let i = 0; i < 4; i++) await signImport(side, makeSqlite(join(work, `b${i}.db`), 1, 300 + i), bob)
    side.close()
    await startNode(dirB, { name: 'B', key: bob, bootstrap: [addrOf(a)] })
    const abandoned = await state(page, 'abandoned')
    expect(abandoned).toMatch(/^Abandoned by a reorganisation \(the chain went from #3 to #\d+, forking after #1\): this block is on a side branch now, and its rows are in the chain only once re-sealed \(its signatory's node re-seals them on the new tip\)\. Block #2 of the canonical chain →$/)
    expect(await page.locator('h1').innerText()).toBe('Block #2 (side branch: not canonical)')
    // Its next block is no longer the next of the chain's #2: the link goes.
    expect(await page.locator('#next-block').count()).toBe(0)
    const there = await page.locator('#canonical-there').getAttribute('href')
    expect(there).toMatch(/^\/blocks\/[0-9a-f]{64}$/)
    expect(there).not.toBe(`/blocks/${mine.hash}`)
    await screenshot(page, 'reorg-live-3-abandoned')
    // Block 1, under both branches, is final now: at least 3 blocks are built on it.
    expect(await state(below, 'final')).toMatch(/^Final: \d+ blocks built on it \(the tip: #\d+\), at least the chain's max reorg depth \(3\): no reorganisation can abandon it\.$/)
    await screenshot(below, 'reorg-live-4-final')
    // The page opened by height shows the block now at #2, and says which it showed before.
    const changed = byHeight.locator('#block-changed')
    await changed.waitFor({ timeout: 30_000 })
    expect(await changed.innerText()).toMatch(new RegExp(`^The block at #2 changed .+: a reorganisation( \\(the chain went from #3 to #\\d+, forking after #1\\))? abandoned the block this page showed, ${mine.hash.slice(0, 16)}…, which is on a side branch now\\. This is the canonical chain's block #2: a page opened by height shows the block at that height; one opened by a block's hash follows that block\\.$`))
    expect(await byHeight.locator('#block-before').getAttribute('href')).toBe(`/blocks/${mine.hash}`)
    expect(await byHeight.locator('h1').innerText()).toBe('Block #2')
    expect(await byHeight.locator('#block-state').getAttribute('data-state')).not.toBe('abandoned')
    expect(await byHeight.locator('dl.fields .hash').first().innerText()).toBe((there ?? '').slice('/blocks/'.length))
    expect(new URL(byHeight.url()).pathname).toBe('/blocks/2')
    await screenshot(byHeight, 'reorg-live-5-by-height')
    // The link goes to the block now at height 2, canonical.
    await page.locator('#canonical-there').click()
    expect(await page.locator('#block-state').getAttribute('data-state')).not.toBe('abandoned')
    expect(await page.locator('h1').innerText()).toBe('Block #2')
    expect([...errors, ...belowErrors, ...byHeightErrors].filter(e => !e.includes('Failed to load resource'))).toEqual([])
  }, 120_000)
})
