import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'

/**
 * Headless Chromium for the explorer's tests: Debian's `chromium` (apt-get install chromium), or
 * the browser CHROMIUM_PATH names. The tests skip, saying so, only when there is none.
 */
export const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(p => p !== undefined && p !== '' && existsSync(p))
export const NO_CHROMIUM = CHROMIUM === undefined ? ' (SKIPPED: no Chromium; install it with `apt-get install chromium`, or set CHROMIUM_PATH)' : ''

export async function launchBrowser (): Promise<Browser> {
  // No sandbox: CI runs as root, where Chromium's sandbox cannot start.
  return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
}

/** Screenshots for people to look at (test-output/, never committed). */
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'test-output', 'screenshots')

/** docs/explorer/: the small screenshots docs/explorer.md shows (`npm run docs:screenshots`). */
const DOCS = join(import.meta.dirname, '..', '..', 'docs', 'explorer')

export async function screenshot (page: Page, name: string, o: { docs?: boolean } = {}): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })
  if (o.docs !== true || process.env.PETAL_DOCS_SCREENSHOTS !== '1') return
  mkdirSync(DOCS, { recursive: true })
  const file = join(DOCS, `${name}.png`)
  await page.screenshot({ path: file, fullPage: false })
  // A palette of 64 colours keeps each small (pngquant: apt-get install pngquant).
  execFileSync('pngquant', ['--force', '--skip-if-larger', '--output', file, '64', '--', file])
}

/** A page that fails its test on any script error or console error. */
export async function openPage (browser: Browser, o: { width?: number } = {}): Promise<{ page: Page, errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: o.width ?? 1000, height: 700 }, acceptDownloads: true })
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', e => errors.push(`pageerror: ${e.message}`))
  page.on('console', m => { if (m.type() === 'error') errors.push(`console: ${m.text()}`) })
  return { page, errors }
}
