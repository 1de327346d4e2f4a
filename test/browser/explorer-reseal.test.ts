import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiServer } from '../../src/api/index.js'
import { CHROMIUM, NO_CHROMIUM } from '../helpers/browser.js'
import { explorerOn } from '../helpers/explorer.js'
import { petalInProcess } from '../helpers/cli.js'
import { aliceOrphan } from '../helpers/orphan.js'

// A re-seal's block page said nothing of the orphaned block whose rows it carries, nor any block's
// Description, though GET /api/v1/blocks/{ref} has answered both since reseal49: a person without
// a terminal could not follow a re-seal back to its origin.
let server: ApiServer
let base: string
let browser: Browser
let page: Page
let errors: string[]
let origin: string
let reseal: string

describe.skipIf(CHROMIUM === undefined)(`the explorer's block page: Description and a re-seal's origin${NO_CHROMIUM}`, () => {
  beforeAll(async () => {
    const { dir, m } = await aliceOrphan(petalInProcess)
    origin = m
    reseal = (JSON.parse((await petalInProcess(['--dir', dir, '--json', 'reseal', m])).stdout) as { hash: string }).hash
    ;({ server, base, browser, page, errors } = await explorerOn(dir))
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it('a re-seal links to its origin; the origin and a plain block show no origin; the genesis shows its description', async () => {
    await page.goto(`${base}blocks/${reseal}`)
    const link = page.locator('#reseal-of')
    await link.waitFor()
    expect(await link.innerText()).toBe(origin)
    expect(await page.locator('#description').innerText()).toBe(`re-seal of ${origin}`)
    await link.click()
    await page.locator('h1', { hasText: 'side branch: not canonical' }).waitFor()
    expect(page.url()).toBe(`${base}blocks/${origin}`)
    expect(await page.locator('#reseal-of').count()).toBe(0)
    expect(await page.locator('#description').count()).toBe(0)
    await page.goto(`${base}blocks/0`)
    await page.locator('#description').waitFor()
    expect(await page.locator('#description').innerText()).toBe('test chain')
    expect(await page.locator('#reseal-of').count()).toBe(0)
    expect(errors.filter(e => !e.includes('Failed to load resource'))).toEqual([])
  })
})
