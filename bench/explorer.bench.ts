// Explorer benchmarks on a 10,000-block chain: the block list (the API call, and the /blocks page
// rendered in headless Chromium) and the home page, each against a reference measured in the same
// run: the same rows read straight from chain.db, and the browser fetching the raw JSON alone.
import '../src/polyfills.js'
import Database from 'better-sqlite3'
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startApiServer } from '../src/api/index.js'
import { buildBlock } from '../src/block/index.js'
import { createChain, reindexChain } from '../src/chain/index.js'
import { generateSigningKey } from '../src/crypto/index.js'
import { DEFAULT_CONSENSUS, writeSealFile } from '../src/storage/index.js'
import { formatTimestamp } from '../src/util/index.js'
import { CHROMIUM, launchBrowser } from '../test/helpers/browser.js'
import { benchCacheDir } from './cache.js'
import { printTable, timeIt, type Row } from './report.js'

const BLOCKS = Number(process.env.PETAL_BENCH_EXPLORER_BLOCKS ?? 10_000)
const CACHE = benchCacheDir(`explorer-${BLOCKS}`)

/** Small signed blocks a minute apart, validated by reindex (built once, then reused). */
async function benchChain (): Promise<string> {
  if (existsSync(join(CACHE, 'complete'))) return CACHE
  rmSync(CACHE, { recursive: true, force: true })
  const building = `${CACHE}.building-${process.pid}`
  const key = generateSigningKey()
  const t0 = performance.now()
  const start = Date.now() - (BLOCKS + 10) * 60_000
  const chain = await createChain(building, { creator: 'bench', description: 'explorer bench', bootstrapPeers: [], consensus: DEFAULT_CONSENSUS, genesisTimestamp: formatTimestamp(start) }, key)
  const work = mkdtempSync(join(tmpdir(), 'petal-bench-src-'))
  let prev = chain.tip().hash
  for (let h = 1; h <= BLOCKS; h++) {
    const src = join(work, 'src.db')
    rmSync(src, { force: true })
    const db = new Database(src)
    db.exec('CREATE TABLE readings (sensor TEXT, value REAL)')
    const ins = db.prepare('INSERT INTO readings VALUES (?, ?)')
    for (let i = 0; i < 1 + (h % 5); i++) ins.run(`s${i}`, h / 7)
    db.close()
    const out = join(work, `b${h}.db`)
    const built = await buildBlock({ source: src, output: out, key, chainId: chain.chainId, height: h, previousHash: prev, timestamp: formatTimestamp(start + h * 60_000), maxBytes: chain.params.maxBlockBytes })
    const dest = chain.dir.blockPath(h)
    mkdirSync(join(dest, '..'), { recursive: true })
    renameSync(out, dest)
    writeSealFile(dest, built.seal)
    prev = built.hash
    if (h % 2000 === 0) process.stderr.write(`  building the bench chain: ${h}/${BLOCKS} blocks (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`)
  }
  chain.close()
  rmSync(work, { recursive: true, force: true })
  for (const s of ['', '-wal', '-shm']) rmSync(join(building, `chain.db${s}`), { force: true })
  const r = await reindexChain(building, { workers: 2 })
  if (r.tipHeight !== BLOCKS) throw new Error(`bench chain reindexed to ${r.tipHeight}`)
  writeFileSync(join(building, 'complete'), '')
  renameSync(building, CACHE)
  return CACHE
}

async function main (): Promise<void> {
  const dir = await benchChain()
  const server = await startApiServer({ dir, address: { host: '127.0.0.1', port: 0 } })
  const url = server.url
  const rows: Row[] = []
  try {
    // The reference: the same 50 blocks and their row counts, read in this process from chain.db.
    const db = new Database(join(dir, 'chain.db'), { readonly: true })
    const raw = db.prepare(`SELECT b.*, (SELECT COUNT(*) FROM block_tables t WHERE t.block = b.id) AS tables,
      (SELECT COALESCE(SUM(t.rows), 0) FROM block_tables t WHERE t.block = b.id) AS rows
      FROM blocks b WHERE b.canonical = 1 ORDER BY b.height DESC LIMIT 50`)
    const get = async (path: string): Promise<void> => { await (await fetch(url + path)).arrayBuffer() }
    await get('api/v1/blocks?limit=50')
    rows.push({ figure: `GET /api/v1/blocks?limit=50 (${BLOCKS} blocks)`, value: await timeIt(() => get('api/v1/blocks?limit=50'), 21), unit: 'ms', reference: 'the same rows from chain.db', refValue: await timeIt(() => raw.all(), 21), better: 'lower' })
    rows.push({ figure: 'GET /api/v1/blocks?limit=50&before=100', value: await timeIt(() => get('api/v1/blocks?limit=50&before=100'), 21), unit: 'ms', reference: 'the same rows from chain.db', refValue: await timeIt(() => raw.all(), 21), better: 'lower' })
    rows.push({ figure: 'GET /api/v1/activity (60 buckets)', value: await timeIt(() => get('api/v1/activity?buckets=60'), 11), unit: 'ms', reference: 'GET /api/v1/status', refValue: await timeIt(() => get('api/v1/status'), 11), better: 'lower' })
    db.close()
    if (CHROMIUM !== undefined) {
      const browser = await launchBrowser()
      try {
        // (The bench's probes are evaluated strings, which the pages' CSP would refuse.)
        const page = await (await browser.newContext({ bypassCSP: true })).newPage()
        // Times inside the page, from the start of navigation: to the app's 'petal-rendered' mark
        // (data fetched and drawn), and, for the reference, to the end of a raw JSON response.
        const rendered = async (path: string): Promise<number> => {
          await page.goto(url + path)
          await page.waitForFunction('performance.getEntriesByName("petal-rendered").length > 0')
          return Number(await page.evaluate('performance.getEntriesByName("petal-rendered")[0].startTime'))
        }
        const jsonAlone = async (): Promise<number> => {
          await page.goto(url + 'api/v1/blocks?limit=50')
          return Number(await page.evaluate('performance.getEntriesByType("navigation")[0].responseEnd'))
        }
        const median = async (f: () => Promise<number>, n: number): Promise<number> => {
          await f()
          const t: number[] = []
          for (let i = 0; i < n; i++) t.push(await f())
          return t.sort((a, b) => a - b)[Math.floor(n / 2)] ?? NaN
        }
        rows.push({ figure: '/blocks page: navigation to 50 blocks drawn', value: await median(() => rendered('blocks'), 9), unit: 'ms', reference: 'navigation to the raw JSON received', refValue: await median(jsonAlone, 9), better: 'lower' })
        rows.push({ figure: '/ page: navigation to everything drawn (5 API calls)', value: await median(() => rendered(''), 9), unit: 'ms', reference: 'navigation to the raw JSON received', refValue: await median(jsonAlone, 9), better: 'lower' })
      } finally {
        await browser.close()
      }
    } else {
      process.stdout.write('\n(no Chromium: the page timings are skipped; apt-get install chromium)\n')
    }
  } finally {
    await server.close()
  }
  printTable(`Explorer on ${BLOCKS} blocks`, rows)
}

await main()
