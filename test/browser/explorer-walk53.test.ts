import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApiServer, type ApiServer } from '../../src/api/index.js'
import type { Chain } from '../../src/chain/index.js'
import { startTestApi } from '../helpers/api.js'
import { CHROMIUM, NO_CHROMIUM } from '../helpers/browser.js'
import { extendChain } from '../helpers/chain.js'
import { closeExplorer, pageErrorsOf, startExplorer, type ExplorerFixture } from '../helpers/explorer.js'

// The explorer walked as a user against live nodes (explorer53): what was stale, untrue in a
// browser or missing, each fixed and checked here in headless Chromium (docs/performance/ingest.md,
// "Session 53: the explorer walked (explorer53)").
let fixture: ExplorerFixture | undefined
let chain: Chain
let base: string
let page: Page
let errors: string[]

const pageErrors = (): string[] => pageErrorsOf(errors).filter(e => !e.includes('ERR_CONNECTION_REFUSED') && !e.includes('ERR_INCOMPLETE_CHUNKED_ENCODING'))
const go = async (path: string, at = base): Promise<void> => { await page.goto(at + path.slice(1)) }
/** A statement that runs until its time limit stops it. */
const FOREVER = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c'

describe.skipIf(CHROMIUM === undefined)(`the explorer walked against live nodes${NO_CHROMIUM}`, () => {
  beforeAll(async () => {
    fixture = await startExplorer()
    ;({ chain, base, page, errors } = fixture)
  })

  afterAll(async () => { await closeExplorer(fixture) })

  // A node stopped while `/` was open left every figure looking current, with "reconnecting…" in
  // small green letters the only sign; it recovered by itself, but nothing said it had been away.
  it('/: a node that stops answering is said at the top of the page, and the page recovers when it answers again', async () => {
    let server: ApiServer = (await startTestApi({ dir: chain.dir.root })).server
    const port = Number(new URL(server.url).port)
    try {
      await go('/', server.url)
      await page.locator('#tip-height').waitFor()
      expect(await page.locator('#node-down').innerText()).toBe('')
      await server.close()
      await page.locator('#node-down').filter({ hasText: 'The node is not answering (since ' }).waitFor()
      expect(await page.locator('#node-down').innerText()).toContain('What this page shows is as of then.')
      server = await startApiServer({ dir: chain.dir.root, address: { host: '127.0.0.1', port }, watchMs: 20 })
      await page.locator('#node-down .banner').waitFor({ state: 'detached', timeout: 15_000 })
      expect(await page.locator('.live').innerText()).toBe('● live')
      expect(pageErrors()).toEqual([])
    } finally {
      await server.close()
    }
  })

  // GET /api/v1/signers has named the peers that hold each key since session 52 (where records can
  // be written); the page showed none of them.
  it('/: each signatory\'s nodes, as this node knows them', async () => {
    const key = chain.keysAt(chain.tip()).all()[0]?.keyId ?? ''
    const id = '12D3KooWRCRQaLTGzj22RPDr7ag2rzm5aegJFhfUh7Qym15PkbDc'
    const { server, url } = await startTestApi({ dir: chain.dir.root, knownPeers: () => [{ id, addrs: [`/ip4/10.0.0.7/tcp/2017/p2p/${id}`], lastSeen: Date.now() - 120_000, signer: key }] })
    try {
      await go('/', url)
      const row = page.locator('#main table').filter({ hasText: 'added at' }).locator('tbody tr').first()
      await row.waitFor()
      expect(await page.locator('#main table').filter({ hasText: 'added at' }).locator('thead th').allInnerTexts()).toContain('its nodes')
      const nodes = row.locator('td').nth(4)
      expect(await nodes.innerText()).toMatch(/^12D3KooWRCRQaLTG… last met \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(2 min ago\)$/)
      expect(await nodes.locator('.hash').getAttribute('title')).toBe(`${id}\n/ip4/10.0.0.7/tcp/2017/p2p/${id}`)
    } finally {
      await server.close()
    }
    // A node that knows none says so, rather than leaving the cell empty.
    await go('/')
    const none = page.locator('#main table').filter({ hasText: 'added at' }).locator('tbody tr td').nth(4)
    await none.waitFor()
    expect(await none.innerText()).toBe('none known to this node')
  })

  // Whole, a signatory's key id stood 25 lines tall in a column three characters wide at 360 px.
  it('/ at a phone\'s width: a signatory\'s row is a few lines tall, its key id shortened and whole in its tooltip', async () => {
    const narrow = await (fixture as ExplorerFixture).browser.newPage({ viewport: { width: 360, height: 700 } })
    try {
      await narrow.goto(base)
      const row = narrow.locator('#main table').filter({ hasText: 'added at' }).locator('tbody tr').first()
      await row.waitFor()
      const key = chain.keysAt(chain.tip()).all()[0]?.keyId ?? ''
      expect(await row.locator('td').first().innerText()).toBe(`${key.slice(0, 10)}…`)
      expect(await row.locator('td .hash').first().getAttribute('title')).toBe(key)
      expect((await row.boundingBox())?.height).toBeLessThan(160)
    } finally {
      await narrow.close()
    }
  })

  it('/: numbers have their units: the max reorg depth is in blocks', async () => {
    await go('/')
    const dd = page.locator('dl.fields dt', { hasText: 'max reorg depth' }).locator('xpath=following-sibling::dd[1]')
    await dd.waitFor()
    expect(await dd.innerText()).toBe('2 blocks')
  })

  // A page left open said "(0 s ago)" of a block for as long as it stayed open.
  it('how long ago a block was moves on while the page stays open', async () => {
    const tip = chain.tip()
    await page.clock.install({ time: Date.parse(tip.timestamp) + 10_000 })
    try {
      await go(`/blocks/${tip.height}`)
      const t = page.locator('dl.fields time')
      await t.waitFor()
      // The installed clock runs with real time from install on: a loaded machine may take a few
      // seconds to draw the page, so "(10 s ago)" is only its lower bound.
      expect(await t.innerText()).toMatch(/\((1\d|2\d) s ago\)/)
      await page.clock.runFor(5 * 60_000)
      expect(await t.innerText()).toContain('(5 min ago)')
    } finally {
      await page.context().close()
      page = await (fixture as ExplorerFixture).browser.newPage()
      errors = []
      page.on('pageerror', e => errors.push(`pageerror: ${e.message}`))
      page.on('console', m => { if (m.type() === 'error') errors.push(`console: ${m.text()}`) })
    }
  })

  // A long statement could not be stopped short of its time limit: "Running…" for 10 s.
  it('/query: a running statement can be cancelled', async () => {
    await go(`/query?sql=${encodeURIComponent(FOREVER)}`)
    await page.locator('#running').waitFor()
    await page.locator('#cancel').click()
    await page.locator('#cancelled').filter({ hasText: 'Cancelled after ' }).waitFor()
    expect(await page.locator('#result .error').count()).toBe(0)
    expect(pageErrors()).toEqual([])
  })

  // QUERY_TIMEOUT's hint told a person in a browser to raise the body's "timeout_ms" (its most in
  // /api/v1/openapi.json): the console has no body to edit. It offers the longer run itself.
  it('/query: a statement stopped at its time limit is offered a run with the longest limit the node allows, then told to narrow it', async () => {
    const { server, url } = await startTestApi({ dir: chain.dir.root, limits: { queryTimeoutMs: 1000, maxQueryTimeoutMs: 2000 } })
    try {
      await go(`/query?sql=${encodeURIComponent(FOREVER)}`, url)
      const error = page.locator('#result .error').filter({ hasText: 'QUERY_TIMEOUT' })
      await error.waitFor()
      let text = await error.innerText()
      expect(text).toContain('Hint: narrow it (WHERE, LIMIT, fewer blocks), or run it again with a longer time limit, at most 2 s on this node')
      expect(text).not.toContain('timeout_ms')
      await page.locator('#rerun-longer').click()
      await page.waitForURL(u => u.searchParams.get('timeout') === '2')
      await error.filter({ hasText: 'the time limit of 2 s' }).waitFor()
      text = await error.innerText()
      expect(text).toContain('Hint: narrow it (WHERE, LIMIT, fewer blocks): 2 s is the longest this node lets a statement run')
      expect(text).not.toContain('timeout_ms')
      expect(await page.locator('#rerun-longer').count()).toBe(0)
    } finally {
      await server.close()
    }
  })

  // The banner said the failure's message twice: "✗ Rejected. REJECTED: <message>", then the code
  // and <message> again.
  it('/verify: a mutated proof is refused with its message said once', async () => {
    const proof = await (await fetch(`${base}api/v1/blocks/${fixture?.typed ?? 0}/tables/people/rows/2/proof`)).text()
    const key = chain.keysAt(chain.tip()).all()[0]?.publicKey.hex ?? ''
    await go('/verify')
    await page.locator('#proof').fill(proof.replace('"bob"', '"eve"'))
    await page.locator('#trust').fill(key)
    await page.locator('#check').click()
    const banner = page.locator('#verdict-bad')
    await banner.waitFor()
    const text = await banner.innerText()
    expect(text).toContain('ROW_INCLUSION_FAILED')
    const message = /ROW_INCLUSION_FAILED (.+)/.exec(text)?.[1] ?? ''
    expect(message).toContain('is not in the table with these values')
    expect(text.split(message).length - 1).toBe(1)
    expect(pageErrors()).toEqual([])
  })

  // "prove" on a block no checkpoint covers yet: the hint names `petal checkpoint --sign`, which
  // read as the reader's to run. Last: it adds a block to the file's chain.
  it('/blocks/{ref}: a hint naming a `petal` command says it is the node operator\'s', async () => {
    await extendChain(chain, (fixture as ExplorerFixture).key, 1)
    await go(`/blocks/${chain.tip().height}`)
    await page.locator('button', { hasText: 'prove' }).first().click()
    const error = page.locator('#rows .error').filter({ hasText: 'PROOF_NO_CHECKPOINT' })
    await error.waitFor()
    expect(await error.innerText()).toContain('`petal ')
    expect(await error.locator('#operator-note').innerText()).toBe('The `petal` commands in this hint are for the node\'s operator, to run on the node\'s machine.')
    // A hint without one has no such note.
    await go(`/query?sql=${encodeURIComponent('SELEC 1')}`)
    await page.locator('.error').filter({ hasText: 'QUERY_SYNTAX' }).waitFor()
    expect(await page.locator('#operator-note').count()).toBe(0)
  })
})
