import type { Browser, Page } from 'playwright-core'
import type { ApiServer } from '../../src/api/index.js'
import type { Chain } from '../../src/chain/index.js'
import type { SigningKey } from '../../src/crypto/index.js'
import { signTipCheckpoints } from '../../src/proof/index.js'
import { startTestApi } from './api.js'
import { launchBrowser, openPage } from './browser.js'
import { provableChain } from './proof.js'

/** The web explorer against a real node, for a browser test file: what startExplorer made. */
export interface ExplorerFixture {
  chain: Chain
  key: SigningKey
  /** The height of the block with a value of every kind (provableChain's). */
  typed: number
  server: ApiServer
  /** The API's URL, ending in '/'. */
  base: string
  browser: Browser
  page: Page
  /** The page's script and console errors as they come. */
  errors: string[]
}

/**
 * Real blocks (provableChain: one with every kind of value), the tip's checkpoint signed as a
 * signatory node signs each tip (what row proofs are made against), the node's API on it, one
 * headless Chromium and a page: once per file (beforeAll), closed by closeExplorer (afterAll).
 */
export async function startExplorer (): Promise<ExplorerFixture> {
  const p = await provableChain()
  await signTipCheckpoints(p.chain, p.key)
  return { chain: p.chain, key: p.key, typed: p.typedHeight, ...await explorerOn(p.chain.dir.root) }
}

/** The API on the data directory `dir`, one headless Chromium and a page: a browser test file's own chain. */
export async function explorerOn (dir: string): Promise<Pick<ExplorerFixture, 'server' | 'base' | 'browser' | 'page' | 'errors'>> {
  const { server, url: base } = await startTestApi({ dir })
  const browser = await launchBrowser()
  const { page, errors } = await openPage(browser)
  return { server, base, browser, page, errors }
}

export async function closeExplorer (f: ExplorerFixture | undefined): Promise<void> {
  await f?.browser.close()
  await f?.server.close()
  f?.chain.close()
}

/** Script and console errors, apart from the failed requests that tests of errors cause on purpose. */
export const pageErrorsOf = (errors: readonly string[]): string[] => errors.filter(e => !e.includes('Failed to load resource'))
