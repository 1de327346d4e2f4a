import type { Browser, Page } from 'playwright-core'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiServer } from '../../src/api/index.js'
import { signImport, type Chain } from '../../src/chain/index.js'
import { generateSigningKey } from '../../src/crypto/index.js'
import { buildRecordsFile, parseRecords } from '../../src/ingest/index.js'
import { http } from '../helpers/api.js'
import { CHROMIUM, NO_CHROMIUM } from '../helpers/browser.js'
import { fixtureKey, newTestChain } from '../helpers/chain.js'
import { explorerOn, pageErrorsOf } from '../helpers/explorer.js'
import { tmpDir } from '../helpers/tmp.js'

// A reader of a chain with confidential columns (user51): the rows page of the API, the explorer's
// block page and its query page showed an encrypted column's sealed values as BLOBs in a TEXT column, with
// nothing to say that they are encrypted, for whom, nor how a recipient reads them.
const CSV = 'id,name,diagnosis\r\n1,ann,flu\r\n2,bob,cold\r\n'
const recipient = generateSigningKey().publicKey
let chain: Chain
let server: ApiServer
let base: string
let browser: Browser
let page: Page
let errors: string[]

describe.skipIf(CHROMIUM === undefined)(`encrypted columns on the rows page and the block page${NO_CHROMIUM}`, () => {
  beforeAll(async () => {
    const key = fixtureKey('alice')
    ;({ chain } = await newTestChain({ key }))
    const work = tmpDir()
    for (const encrypted of [false, true]) {
      const f = join(work, `p${String(encrypted)}.db`)
      buildRecordsFile(f, 'patients', parseRecords(CSV, 'csv'))
      await signImport(chain, f, key, encrypted ? { encrypt: { columns: [['patients', 'diagnosis']], recipients: [recipient] } } : {})
    }
    ;({ server, base, browser, page, errors } = await explorerOn(chain.dir.root))
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    chain?.close()
  })

  it('GET …/rows names the encrypted columns and their recipients; a plain block names none', async () => {
    const sealed = (await http(`${base}api/v1/blocks/2/tables/patients/rows`)).json as { encrypted_columns: string[], recipients: string[] }
    expect(sealed).toMatchObject({ encrypted_columns: ['diagnosis'], recipients: [recipient.id] })
    const plain = (await http(`${base}api/v1/blocks/1/tables/patients/rows`)).json as { encrypted_columns: string[], recipients: string[] }
    expect(plain).toMatchObject({ encrypted_columns: [], recipients: [] })
  })

  it('the block page marks the column and says how a recipient reads it; so does the query page', async () => {
    await page.goto(`${base}blocks/2?table=patients`)
    const note = page.locator('#encrypted-note')
    await note.waitFor()
    const text = await note.innerText()
    expect(text).toContain('Column diagnosis is encrypted in this block for 1 recipient key')
    expect(text).toContain(recipient.id.slice(0, 10))
    expect(text).toContain('petal export')
    expect(await page.locator('#rows th', { hasText: 'diagnosis' }).innerText()).toContain('(encrypted)')
    // The query page: an answer with BLOBs from a table with encrypted columns says which.
    await page.goto(`${base}query?sql=${encodeURIComponent('SELECT diagnosis FROM patients WHERE _height = 2')}`)
    await page.locator('#sealed-note').filter({ hasText: 'Encrypted on this chain: patients.diagnosis.' }).waitFor()
    await page.goto(`${base}query?sql=${encodeURIComponent('SELECT name FROM patients')}`)
    await page.locator('#result-table').waitFor()
    expect(await page.locator('#sealed-note').count()).toBe(0)
    await page.goto(`${base}blocks/1?table=patients`)
    await page.locator('#rows table').waitFor()
    expect(await page.locator('#encrypted-note').count()).toBe(0)
    expect(pageErrorsOf(errors)).toEqual([])
  })
})
