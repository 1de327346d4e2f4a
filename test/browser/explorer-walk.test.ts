import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TokenStore } from '../../src/api/index.js'
import type { Chain } from '../../src/chain/index.js'
import { startTestApi } from '../helpers/api.js'
import { CHROMIUM, NO_CHROMIUM } from '../helpers/browser.js'
import { petalInProcess } from '../helpers/cli.js'
import { closeExplorer, pageErrorsOf, startExplorer, type ExplorerFixture } from '../helpers/explorer.js'
import { tmpDir } from '../helpers/tmp.js'

// The explorer as someone who never opens a terminal walks it (user48): what they could not do
// or were shown wrong, each fixed and checked here in headless Chromium.
let fixture: ExplorerFixture | undefined
let chain: Chain
let typed: number
let base: string
let page: Page
let errors: string[]

const pageErrors = (): string[] => pageErrorsOf(errors)
const go = async (path: string): Promise<void> => { await page.goto(base + path.slice(1)) }

describe.skipIf(CHROMIUM === undefined)(`the explorer without a terminal${NO_CHROMIUM}`, () => {
  beforeAll(async () => {
    fixture = await startExplorer()
    ;({ chain, typed, base, page, errors } = fixture)
  })

  afterAll(async () => { await closeExplorer(fixture) })

  it('/verify: a proof made by `petal prove`, checked against the node\'s signatories with one button; a BLOB shows its bytes in hex', async () => {
    const file = join(tmpDir(), 'proof.json')
    const made = await petalInProcess(['--dir', chain.dir.root, 'prove', '--height', String(typed), '--table', 'people', '--rowid', '2', '-o', file])
    expect(made.code, made.stderr).toBe(0)
    await go('/verify')
    await page.locator('#proof-file').setInputFiles(file)
    await page.waitForFunction('document.querySelector("#proof").value.length > 0')
    // The keys a user without the CLI could not get (`petal keys export`): the node's, said to be the node's.
    await page.locator('#use-node-signers').click()
    await page.locator('#signers-note').filter({ hasText: '1 active signatory as this node reports them' }).waitFor()
    expect((await page.locator('#trust').inputValue()).trim()).toBe(chain.keysAt(chain.tip()).all()[0]?.publicKey.hex)
    await page.locator('#check').click()
    await page.locator('#verdict-ok').waitFor()
    // What the proof cannot prove of its keys: it told a person without a terminal to run
    // `petal signers` (user49); the page checks the keys that signed against the node's list.
    expect(await page.locator('#report li', { hasText: 'still authorised' }).innerText()).not.toContain('petal signers')
    await page.locator('#check-node-signers').click()
    const signer = chain.keysAt(chain.tip()).all()[0]
    await page.locator('#node-signers-check li').filter({ hasText: `${signer?.keyId ?? '?'} is active at height ${chain.tip().height}, added at height 0` }).waitFor()
    // Row 2's photo is the bytes de ad: shown as SQL writes them (it showed the base64, x'3q0=').
    const values = await page.locator('#report table tbody td').allInnerTexts()
    expect(values).toContain("x'dead'")
    expect(values).not.toContain("x'3q0='")
    expect(pageErrors()).toEqual([])
  })

  it('/verify saved to disk has no node to ask, so no such button', async () => {
    const html = await (await fetch(`${base}verify`)).text()
    const work = tmpDir()
    writeFileSync(join(work, 'verify.html'), html)
    await page.goto(`file://${join(work, 'verify.html')}`)
    await page.locator('#check').waitFor()
    expect(await page.locator('#use-node-signers').count()).toBe(0)
  })

  it('/query: a hint\'s `POST /api/v1/query {"sql": …}` is offered in the console: run at once, or put in the editor with TABLE to replace', async () => {
    await go(`/query?sql=${encodeURIComponent('SELECT * FROM peeple')}`)
    await page.locator('.error').filter({ hasText: 'QUERY_UNKNOWN_TABLE' }).waitFor()
    expect(await page.locator('#hint-statement code').innerText()).toBe('SELECT DISTINCT name FROM _tables')
    await page.locator('#run-hint').click()
    await page.waitForURL(u => u.searchParams.get('sql') === 'SELECT DISTINCT name FROM _tables')
    await page.locator('#result-table').waitFor()
    expect(await page.locator('#result-table tbody').innerText()).toContain('people')

    await go(`/query?sql=${encodeURIComponent('SELECT nope FROM people')}`)
    await page.locator('.error').filter({ hasText: 'QUERY_UNKNOWN_COLUMN' }).waitFor()
    await page.locator('#edit-hint').click()
    expect(await page.locator('#sql').inputValue()).toBe("SELECT name FROM pragma_table_info('TABLE')")
    expect(await page.evaluate('document.activeElement.id')).toBe('sql')
    expect(await page.evaluate('(e => e.value.slice(e.selectionStart, e.selectionEnd))(document.activeElement)')).toBe('TABLE')
    await page.keyboard.type('people')
    await page.locator('#sql').press('Control+Enter')
    await page.locator('#result-table').waitFor()
    expect(await page.locator('#result-table tbody td').allInnerTexts()).toEqual(['_height', 'id', 'name', 'score', 'photo', 'big'])
    expect(pageErrors()).toEqual([])
  })

  // "Link to this result" opened in a new tab of a node that needs a read token said
  // API_UNAUTHORIZED with nowhere to give the token: only the other pages asked for it (user51).
  it('/query of a node that needs a read token asks for it there, then runs the statement', async () => {
    const exposed = await startTestApi({ dir: chain.dir.root, access: { expose: true } })
    try {
      const { token } = TokenStore.of(chain.dir.root).create({ scope: 'read', name: 'walk-query' })
      await page.goto(`${exposed.url}query?sql=${encodeURIComponent('SELECT count(*) AS n FROM _blocks')}`)
      await page.locator('.error').filter({ hasText: 'API_UNAUTHORIZED' }).waitFor()
      await page.locator('#token').fill(token)
      await page.locator('#token').press('Enter')
      await page.locator('#result-table').waitFor()
      expect(await page.locator('#result-table tbody td').innerText()).toBe(String(chain.tip().height + 1))
      expect(pageErrors()).toEqual([])
    } finally {
      await exposed.server.close()
    }
  })

  // /verify is a file of its own, which the other pages' token does not reach: on a node that needs
  // a read token, "Use this node's signatories" said "the node answered 401" and nothing more (user51).
  it('/verify of a node that needs a read token: "Use this node\'s signatories" asks for it, then fills the keys', async () => {
    const exposed = await startTestApi({ dir: chain.dir.root, access: { expose: true } })
    try {
      const { token } = TokenStore.of(chain.dir.root).create({ scope: 'read', name: 'walk-verify' })
      await page.goto(`${exposed.url}verify`)
      await page.locator('#use-node-signers').click()
      await page.locator('#signers-note').filter({ hasText: 'API_UNAUTHORIZED' }).waitFor()
      await page.locator('#signers-token').fill(token)
      await page.locator('#signers-token-use').click()
      await page.locator('#signers-note').filter({ hasText: '1 active signatory as this node reports them' }).waitFor()
      expect((await page.locator('#trust').inputValue()).trim()).toBe(chain.keysAt(chain.tip()).all()[0]?.publicKey.hex)
      expect(pageErrors()).toEqual([])
    } finally {
      await exposed.server.close()
    }
  })

  it('/query: "Tables on this chain" lists each table with its blocks and rows, and opens its rows', async () => {
    await go('/query')
    await page.locator('#chain-tables summary').click()
    const people = page.locator('#tables tbody tr').filter({ hasText: 'people' })
    await people.waitFor()
    const names = await page.locator('#tables tbody td:first-child').allInnerTexts()
    expect(names).toEqual([...names].sort())
    expect(names).toEqual(expect.arrayContaining(['people', 'tags', 'notes', 't']))
    expect(await people.locator('td').allInnerTexts()).toEqual(['people', '1', '6'])
    await people.locator('a').click()
    await page.waitForURL(u => u.searchParams.get('sql') === 'SELECT * FROM "people" LIMIT 100')
    await page.locator('#row-count').filter({ hasText: '6 rows' }).waitFor()
    expect(pageErrors()).toEqual([])
  })

  it('/blocks/{ref}: what is not a height or hash is said in words (it was the API\'s schema pattern); a hash in upper case is found', async () => {
    await go('/blocks/abc')
    const err = page.locator('.error')
    await err.waitFor()
    const text = await err.innerText()
    expect(text).toContain('"abc" is not a block height or hash')
    expect(text).toContain('Hint: give a height (such as 12) or a block\'s hash')
    expect(text).not.toContain('must match pattern')
    const hash = chain.get(typed)?.hash ?? ''
    await go(`/blocks/${hash.slice(0, 12).toUpperCase()}`)
    await page.locator('h1').filter({ hasText: `Block #${typed}` }).waitFor()
  })

  it('/blocks/{ref}?table=T of a table the block does not have says so (it showed nothing)', async () => {
    await go(`/blocks/${typed}?table=nope`)
    await page.locator('#no-table').filter({ hasText: `Block #${typed} has no table "nope": its tables are listed above.` }).waitFor()
    expect(await page.locator('#rows').count()).toBe(0)
  })

  it('/blocks/{ref}?table=T&after=R says the page starts after rowid R (it said "from rowid R")', async () => {
    await go(`/blocks/${typed}?table=people&after=2`)
    await page.locator('#rows p.muted').filter({ hasText: 'shown after rowid 2.' }).waitFor()
    expect(await page.locator('#rows tbody tr td:first-child').first().innerText()).toBe('3')
  })

  it('/: the chart\'s caption writes times as the rest of the page does', async () => {
    await go('/')
    const caption = page.locator('figure figcaption')
    await caption.waitFor()
    expect(await caption.innerText()).toMatch(/^Blocks and rows from \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ to \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ, /)
  })
})
