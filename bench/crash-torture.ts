/**
 * Random kill -9 torture of every write path (session 32, crash32). Not part of `npm test`: run
 * `npm run torture:crash -- [--iterations N] [--paths run,import,append,pull,reindex,keys,adopt,init] [--seed S]`
 * after `npm run build`. For each write path it starts the built CLI in a temporary data directory,
 * kills it with SIGKILL after a random delay spread over the whole operation (start-up and
 * shut-down included), and checks the directory: `status` and `verify` succeed (or fail only with a
 * coded error whose hint's command repairs it), the index agrees with the block files, no
 * temporary file accumulates, and nothing acknowledged before the kill is lost. The same directory
 * takes every iteration of a path, so a kill in the recovery of the previous kill is tried too.
 * Any violation is printed with the seed and iteration, and the process exits 1.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Chain } from '../src/chain/index.js'
import { Ingest } from '../src/ingest/index.js'
import { buildDaisyDir } from '../test/helpers/daisy.js'
import { removeTmpDirs } from '../test/helpers/tmp.js'
import { faultCounts, faultPaths } from './crash-faults.js'
import { pathAppend } from './crash-kill-append.js'
import { codedError, indexAgrees, killAfter, leftovers, petal, signBlocks, sleep, spentLine, sqliteFile, start, timed, type Run } from './crash-torture-proc.js'

const args = process.argv.slice(2)
const opt = (name: string, def: string): string => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] ?? def : def }
const ITER = Number(opt('iterations', '20'))
const FAULTS = args.includes('--faults')
const PATHS = opt('paths', FAULTS ? 'import,append,run,pull,reindex,keys,init' : 'run,import,append,pull,reindex,keys,adopt,init').split(',')
let seed = Number(opt('seed', String(Date.now() % 1_000_000)))
/** mulberry32: a seeded generator, so a run can be repeated with --seed. */
function rand (): number {
  seed = (seed + 0x6D2B79F5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const startSeed = seed
const root = mkdtempSync(join(tmpdir(), 'petal-torture-'))
const failures: string[] = []
const counts: Record<string, { iterations: number, killed: number, finished: number, repaired: number }> = {}


function fail (path: string, i: number, what: string, detail = ''): void {
  // The first 8 lines here; all of them in a file kept with the directories (a node's stderr
  // begins with its start-up: seed 355 #8's cause was past the lines printed, mend35).
  const lines = detail.trim().split('\n')
  const file = join(root, `fail-${failures.length + 1}.txt`)
  if (lines.length > 8) writeFileSync(file, detail)
  const line = `FAIL ${path} #${i} (seed ${startSeed}): ${what}${detail === '' ? '' : '\n    ' + lines.slice(0, 8).join('\n    ')}${lines.length > 8 ? `\n    … ${lines.length} lines in ${file}` : ''}`
  failures.push(line)
  console.log(line)
}

/**
 * `status` then `verify` on dir. A failure is acceptable only as a coded error whose hint names a
 * command that then makes both pass; returns whether a repair was needed, or undefined on failure.
 */
async function checkOpens (path: string, i: number, dir: string): Promise<boolean | undefined> {
  let repaired = false
  for (let attempt = 0; attempt < 3; attempt++) {
    const s = await petal(['--dir', dir, '--json', 'status'])
    const v = s.code === 0 ? await petal(['--dir', dir, 'verify', '--workers', '1']) : s
    if (s.code === 0 && v.code === 0) return repaired
    const e = codedError(v.stderr)
    if (e?.command === undefined || attempt === 2) { fail(path, i, `${s.code === 0 ? 'verify' : 'status'} failed with no repairing hint (exit ${v.code})`, v.stderr); return undefined }
    const words = e.command.split(/\s+/).slice(1).filter(w => !/^[A-Z]+$/.test(w))
    console.log(`  ${path} #${i}: ${e.code}, running its hint: petal ${words.join(' ')}`)
    const r = await petal(['--dir', dir, ...words])
    if (r.code !== 0) { fail(path, i, `the hint's command failed: petal ${words.join(' ')}`, r.stderr); return undefined }
    repaired = true
  }
  return undefined
}

/** Common checks after a kill; returns whether the directory opened (with or without repair). */
async function afterKill (path: string, i: number, dir: string, limit = 4): Promise<boolean> {
  const repaired = await checkOpens(path, i, dir)
  if (repaired === undefined) return false
  if (repaired) counts[path]!.repaired++
  const bad = await timed('index agrees', () => indexAgrees(dir))
  if (bad.length > 0) fail(path, i, 'index and block files disagree', bad.join('\n'))
  // tmp/ is emptied by the next writer's recovery (src/chain/recover.ts) and the root's atomic-write
  // temps by the next node (src/node/state-file.ts), so a few may wait for them (a pull: its window);
  // more than `limit` means they accumulate.
  const left = await timed('leftovers', () => leftovers(dir))
  if (left.length > limit) fail(path, i, `${left.length} leftover temporary file(s) after reopening`, left.join('\n'))
  return true
}

function tally (path: string, killed: boolean): void {
  const c = counts[path] ??= { iterations: 0, killed: 0, finished: 0, repaired: 0 }
  c.iterations++
  if (killed) c.killed++; else c.finished++
}

async function newChain (dir: string): Promise<void> {
  const r = await petal(['--dir', dir, 'init'])
  if (r.code !== 0) throw new Error(`init: ${r.stderr}`)
}

/** After a writer that ran to its end, no temporary file may be left anywhere in dir. */
function noLeftovers (path: string, dir: string, after: Run): void {
  if (after.code !== 0 && after.signal !== 'SIGTERM') fail(path, ITER, `the final unkilled command failed (exit ${after.code})`, after.stderr)
  const left = leftovers(dir)
  if (left.length > 0) fail(path, ITER, `${left.length} temporary file(s) left after an unkilled command`, left.join('\n'))
}

/**
 * How long an operation takes: delays are drawn over [0, 1.2 × it]. It starts at a guess, becomes
 * the longest unkilled run, and grows by 15 % while kills late in the span still find the
 * operation running (a guess too short would never reach its end).
 */
const span: Record<string, number> = {}
const drawn: Record<string, number> = {}
function delayFor (key: string, fallback: number): number { span[key] ??= fallback; drawn[key] = rand() * 1.2 * span[key]; return drawn[key] }
function learn (key: string, r: Run): void {
  if (r.signal === null) span[key] = Math.max(span[key] ?? 0, r.ms)
  else if ((drawn[key] ?? 0) > 0.8 * (span[key] ?? 0)) span[key] = (span[key] ?? 0) * 1.15
}

// ---- the write paths ----

async function pathImport (): Promise<void> {
  const dir = join(root, 'import')
  await newChain(dir)
  const acked = new Map<number, string>()
  for (let i = 0; i < ITER; i++) {
    const big = rand() < 0.3
    const src = sqliteFile(join(root, 'src.db'), big ? 200_000 : 1 + Math.floor(rand() * 200), i)
    const before = (JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { tip: { height: number, hash: string } }).tip
    const key = big ? 'import-big' : 'import'
    const { run, killed } = await killAfter(start(['--dir', dir, '--json', 'signimportblock', src]), delayFor(key, 800))
    learn(key, run)
    tally('import', killed)
    if (!killed) {
      if (run.code !== 0) { fail('import', i, `signimportblock exit ${run.code}`, run.stderr); continue }
      const r = JSON.parse(run.stdout) as { height: number, hash: string }
      acked.set(r.height, r.hash)
    }
    if (!await afterKill('import', i, dir)) return
    const tip = (JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { tip: { height: number, hash: string } }).tip
    if (tip.height !== before.height && tip.height !== before.height + 1) fail('import', i, `tip ${tip.height} is neither the old ${before.height} nor the next`)
    const c = Chain.open(dir, { readonly: true })
    try {
      for (const [h, hash] of acked) if (c.get(h)?.hash !== hash) fail('import', i, `acknowledged block ${h} ${hash} lost`)
    } finally { c.close() }
  }
  noLeftovers('import', dir, await petal(['--dir', dir, 'signimportblock', sqliteFile(join(root, 'src.db'), 3, 0)]))
}

async function pathRun (): Promise<void> {
  const dir = join(root, 'run')
  await newChain(dir)
  const token = (await petal(['--dir', dir, 'tokens', 'create'])).stdout.trim()
  const acked: string[] = []
  for (let i = 0; i < ITER; i++) {
    const p = start(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', '127.0.0.1:0', '--seal-every', String([0, 0.05, 0.5][i % 3])])
    // A third of the kills fall in the start-up (before the HTTP URL is printed, whose time is
    // learned), the rest over the 3 s after it, a quarter of those in the shut-down (a SIGTERM first).
    const inStartup = rand() < 0.34
    const delay = rand() * (inStartup ? (span.runStartup ?? 1500) : 3000)
    let dead = false
    let upAt: number | undefined
    const t0 = performance.now()
    void p.done.then(() => { dead = true })
    // Three writers: lone appends commit alone, concurrent ones in groups (src/ingest/group-commit.ts).
    const writer = Promise.all([0, 1, 2].map(async w => {
      let url: string | undefined
      while (!dead && url === undefined) { url = /^(http:\/\/\S+)$/m.exec(p.out())?.[1]; if (url === undefined) await sleep(5) }
      if (url !== undefined && upAt === undefined) { upAt = performance.now(); span.runStartup = Math.max(span.runStartup ?? 0, upAt - t0) }
      for (let n = 0; !dead && url !== undefined; n++) {
        const rows = Array.from({ length: 1 + (n % 20) }, (_, k) => ({ i, w, n, k }))
        const r = await fetch(url + 'api/v1/records/kept', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(rows) }).catch(() => undefined)
        if (r?.status === 202) { const body = await r.json().catch(() => undefined) as { receipts?: string[] } | undefined; if (body?.receipts !== undefined) acked.push(...body.receipts) }
      }
    }))
    if (!inStartup) {
      while (!dead && upAt === undefined) await sleep(5)
      if (rand() < 0.25) setTimeout(() => { p.child.kill('SIGTERM') }, delay * 0.7)
    }
    const { killed } = await killAfter(p, delay)
    await writer
    tally('run', killed)
    if (!await afterKill('run', i, dir)) return
    const c = Chain.open(dir, { readonly: true })
    const ingest = Ingest.open({ chain: c, readonly: true })
    try {
      const lost = acked.filter(id => { const r = ingest.receipt(id); return r === undefined || (r.state !== 'pending' && r.state !== 'sealed') })
      if (lost.length > 0) fail('run', i, `${lost.length} of ${acked.length} acknowledged receipt(s) unknown`, lost.slice(0, 5).join(' '))
    } finally { await ingest.close(); c.close() }
    // No row sealed twice (a seal cut short and resumed, a re-queued batch).
    if (acked.length > 0) {
      const q = await petal(['--dir', dir, 'query', "SELECT count(*) AS n, count(DISTINCT i || ':' || w || ':' || n || ':' || k) AS d FROM kept"])
      const r = q.code === 0 ? JSON.parse(q.stdout.trim().split('\n')[0] ?? '{}') as { n?: number, d?: number } : {}
      if (q.code !== 0 && codedError(q.stderr)?.code !== 'QUERY_UNKNOWN_TABLE') fail('run', i, `query exit ${q.code}`, q.stderr)
      else if (r.n !== r.d) fail('run', i, `${r.n} sealed rows, ${r.d} distinct: rows sealed twice`)
    }
  }
  console.log(`  run: ${acked.length} acknowledged rows checked`)
  // The final run is stopped (SIGTERM) as soon as it listens, or, two times in three, in its
  // start-up seal: rows are left pending for it, and it is held (PETAL_PAUSE) with the seal's input
  // file built or with its block built under the chain's lock until the stop (session 42).
  const extra = await petal(['--dir', dir, '--json', 'append', 'kept', '-f', 'ndjson', finalRows(join(root, 'last.ndjson'))])
  const lastReceipts = extra.code === 0 ? (JSON.parse(extra.stdout) as { receipts: string[] }).receipts : []
  if (extra.code !== 0) fail('run', ITER, `the final append failed (exit ${extra.code})`, extra.stderr)
  const point = [undefined, 'ingest:built', 'sign-import:locked'][Math.floor(rand() * 3)]
  const pause = join(root, 'pause')
  const last = start(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off', '--seal-every', '0'], point === undefined ? {} : { PETAL_PAUSE: point, PETAL_PAUSE_FILE: pause })
  let ended = false
  void last.done.then(() => { ended = true })
  for (let w = 0; w < 600 && !ended && !/^\/ip4\//m.test(last.out()); w++) await sleep(50)
  for (let w = 0; w < 600 && !ended && point !== undefined && !existsSync(pause); w++) await sleep(50)
  if (point !== undefined && !existsSync(pause)) fail('run', ITER, `the final run never reached ${point}`)
  last.child.kill('SIGTERM')
  const lastRun = await last.done
  rmSync(pause, { force: true })
  console.log(`  run: final stop ${point === undefined ? 'once listening' : `at ${point}`}, exit ${lastRun.code ?? lastRun.signal}`)
  noLeftovers('run', dir, lastRun)
  const c = Chain.open(dir, { readonly: true })
  const ingest = Ingest.open({ chain: c, readonly: true })
  try {
    const lost = lastReceipts.filter(id => { const r = ingest.receipt(id); return r === undefined || (r.state !== 'pending' && r.state !== 'sealed') })
    if (lost.length > 0) fail('run', ITER, `${lost.length} row(s) appended before the final run unknown after its stop`, lost.join(' '))
  } finally { await ingest.close(); c.close() }
}

/** Rows for the final run's seal, in an NDJSON file; `i` -1 keeps them apart from the writers'. */
function finalRows (path: string): string {
  writeFileSync(path, Array.from({ length: 20 }, (_, k) => JSON.stringify({ i: -1, w: 0, n: 0, k })).join('\n') + '\n')
  return path
}

async function pathPull (): Promise<void> {
  const sDir = join(root, 'pull-source')
  await newChain(sDir)
  await timed('set-up', async () => { await signBlocks(sDir, 40, b => sqliteFile(join(root, 'psrc.db'), b % 8 === 0 ? 60_000 : 20, b)) })
  const s = start(['--dir', sDir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off'])
  let addr: string | undefined
  for (let w = 0; w < 600 && addr === undefined; w++) { addr = /^(\/ip4\/\S+\/p2p\/\S+)$/m.exec(s.out())?.[1]; await sleep(50) }
  if (addr === undefined) throw new Error('source node did not start')
  const want = (JSON.parse((await petal(['--dir', sDir, '--json', 'status'])).stdout) as { tip: { hash: string } }).tip.hash
  let tDir = join(root, 'pull-0')
  try {
    for (let i = 0; i < ITER; i++) {
      const { run, killed } = await killAfter(start(['--dir', tDir, '--json', 'pull', addr]), delayFor('pull', 4000))
      learn('pull', run)
      tally('pull', killed)
      if (!killed) {
        if (run.code !== 0) { fail('pull', i, `pull exit ${run.code}`, run.stderr); tDir = join(root, `pull-${i + 1}`); continue }
        if ((JSON.parse(run.stdout) as { hash: string }).hash !== want) fail('pull', i, 'pull acknowledged another tip')
      }
      const st = await petal(['--dir', tDir, '--json', 'status'])
      if (codedError(st.stderr)?.code === 'NOT_INITIALISED') {
        // Killed before the genesis was placed: the next pull must accept the directory as it is.
        continue
      }
      if (!await afterKill('pull', i, tDir, 400)) { tDir = join(root, `pull-${i + 1}`); continue }
      if (!killed) tDir = join(root, `pull-${i + 1}`) // done: the next iteration starts a new pull
    }
    // The last directory, pulled to the end, must hold the source's tip.
    const end = await petal(['--dir', tDir, '--json', 'pull', addr])
    if (end.code !== 0 || (JSON.parse(end.stdout) as { hash: string }).hash !== want) fail('pull', ITER, `the final resume did not reach the tip (exit ${end.code})`, end.stderr)
    noLeftovers('pull', tDir, end)
  } finally {
    s.child.kill('SIGTERM')
    await s.done
  }
}

async function pathReindex (): Promise<void> {
  const dir = join(root, 'reindex')
  await newChain(dir)
  await timed('set-up', async () => { await signBlocks(dir, 60, b => sqliteFile(join(root, 'rsrc.db'), b % 10 === 0 ? 50_000 : 30, b)) })
  const want = (JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { tip: { hash: string } }).tip.hash
  for (let i = 0; i < ITER; i++) {
    const argv = [['reindex'], ['reindex', '--query'], ['reindex', '--deep']][i % 3] as string[]
    // Every fourth index rebuild starts from a lost chain.db (the case reindex is for).
    const lost = argv.length === 1 && i % 4 === 0
    if (lost) for (const f of ['chain.db', 'chain.db-wal', 'chain.db-shm']) rmSync(join(dir, f), { force: true })
    const key = argv.join(' ') + (lost ? ' (lost index)' : '')
    const { run, killed } = await killAfter(start(['--dir', dir, ...argv]), delayFor(key, 3000))
    learn(key, run)
    tally('reindex', killed)
    if (!killed && run.code !== 0) fail('reindex', i, `${key} exit ${run.code}`, run.stderr)
    if (!await afterKill('reindex', i, dir)) return
    const tip = (JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout) as { tip: { hash: string } }).tip.hash
    if (tip !== want) fail('reindex', i, 'the tip changed')
    const q = await petal(['--dir', dir, '--json', 'query', 'SELECT count(*) AS n FROM t'])
    if (q.code !== 0) {
      const e = codedError(q.stderr)
      if (e?.command === undefined) { fail('reindex', i, `query failed with no repairing hint (exit ${q.code})`, q.stderr); continue }
      const r = await petal(['--dir', dir, ...e.command.split(/\s+/).slice(1)])
      const q2 = await petal(['--dir', dir, 'query', 'SELECT count(*) AS n FROM t'])
      if (r.code !== 0 || q2.code !== 0) fail('reindex', i, `query's hint did not repair it: ${e.command}`, r.stderr + q2.stderr)
      else counts.reindex!.repaired++
    }
  }
  noLeftovers('reindex', dir, await petal(['--dir', dir, 'reindex']))
}

async function pathKeys (): Promise<void> {
  const dir = join(root, 'keys')
  await newChain(dir)
  const tokens: string[] = []
  const keys: string[] = []
  for (let i = 0; i < ITER; i++) {
    const kind = i % 2 === 0 ? 'tokens' : 'keys'
    const argv = kind === 'tokens' ? ['--json', 'tokens', 'create', '--name', `t${i}`] : ['--json', 'keys', 'generate']
    const { run, killed } = await killAfter(start(['--dir', dir, ...argv]), delayFor(kind, 600))
    learn(kind, run)
    tally('keys', killed)
    if (!killed) {
      if (run.code !== 0) { fail('keys', i, `${argv.join(' ')} exit ${run.code}`, run.stderr); continue }
      const j = JSON.parse(run.stdout) as { id?: string, name?: string }
      if (kind === 'tokens') tokens.push(`t${i}`); else keys.push(String(j.id))
    }
    if (!await afterKill('keys', i, dir)) return
    const tl = await petal(['--dir', dir, '--json', 'tokens', 'list'])
    const kl = await petal(['--dir', dir, '--json', 'keys', 'list'])
    if (tl.code !== 0) fail('keys', i, `tokens list exit ${tl.code}`, tl.stderr)
    else for (const t of tokens) if (!tl.stdout.includes(`"${t}"`)) fail('keys', i, `acknowledged token ${t} lost`)
    if (kl.code !== 0) fail('keys', i, `keys list exit ${kl.code}`, kl.stderr)
    else for (const k of keys) if (!kl.stdout.includes(k)) fail('keys', i, `acknowledged key ${k} lost`)
  }
  // A key write and a token write each remove the temporaries killed ones left in their directory.
  const key = await petal(['--dir', dir, 'keys', 'generate'])
  if (key.code !== 0) fail('keys', ITER, `the final keys generate failed (exit ${key.code})`, key.stderr)
  noLeftovers('keys', dir, await petal(['--dir', dir, 'tokens', 'create', '--name', 'last']))
}

async function pathAdopt (): Promise<void> {
  const daisy = buildDaisyDir(join(root, 'daisy'))
  for (let i = 0; i < ITER; i++) {
    const dir = join(root, `adopt-${i}`)
    mkdirSync(dir)
    await petal(['--dir', dir, 'keys', 'import', join(daisy.root, 'private.db'), '--default'])
    const { run, killed } = await killAfter(start(['--dir', dir, 'adopt-daisy', daisy.root]), delayFor('adopt', 1500))
    learn('adopt', run)
    tally('adopt', killed)
    if (!killed && run.code !== 0) { fail('adopt', i, `adopt-daisy exit ${run.code}`, run.stderr); continue }
    const st = await petal(['--dir', dir, 'status'])
    if (st.code !== 0) {
      // Not adopted: adopt-daisy again must work on the directory as the kill left it (or its error's hint repair it).
      const again = await petal(['--dir', dir, 'adopt-daisy', daisy.root])
      if (again.code !== 0) {
        const e = codedError(again.stderr)
        fail('adopt', i, `adopt-daisy after the kill exit ${again.code}${e === undefined ? '' : ` [${e.code}]`}`, again.stderr)
        continue
      }
    }
    if (await afterKill('adopt', i, dir)) noLeftovers('adopt', dir, await petal(['--dir', dir, 'signimportblock', sqliteFile(join(root, 'asrc.db'), 3, i)]))
    rmSync(dir, { recursive: true, force: true })
  }
}

async function pathInit (): Promise<void> {
  for (let i = 0; i < ITER; i++) {
    const dir = join(root, `init-${i}`)
    const { run, killed } = await killAfter(start(['--dir', dir, 'init']), delayFor('init', 1000))
    learn('init', run)
    tally('init', killed)
    if (!killed && run.code !== 0) { fail('init', i, `init exit ${run.code}`, run.stderr); continue }
    // Killed or not, init again must work on the directory as it was left (it is idempotent).
    const again = await petal(['--dir', dir, 'init'])
    if (again.code !== 0) { fail('init', i, `init after the kill exit ${again.code}`, again.stderr); continue }
    if (await afterKill('init', i, dir)) noLeftovers('init', dir, await petal(['--dir', dir, 'signimportblock', sqliteFile(join(root, 'isrc.db'), 3, i)]))
    rmSync(dir, { recursive: true, force: true })
  }
}

const killTable: Record<string, () => Promise<void>> = { init: pathInit, import: pathImport, run: pathRun, pull: pathPull, reindex: pathReindex, keys: pathKeys, adopt: pathAdopt, append: async () => { await pathAppend({ iterations: ITER, root, rand, fail, tally, afterKill, noLeftovers, delayFor, learn }) } }
const table = FAULTS ? faultPaths({ iterations: ITER, root, rand, fail, tally, afterKill, noLeftovers }) : killTable
console.log(`crash torture${FAULTS ? ' (I/O faults)' : ''}: ${ITER} iteration(s) per path, paths ${PATHS.join(',')}, seed ${startSeed}, in ${root}`)
for (const name of PATHS) {
  const t0 = performance.now()
  counts[name] ??= { iterations: 0, killed: 0, finished: 0, repaired: 0 }
  try { await (table[name] ?? (async () => { throw new Error(`no path ${name}`) }))() } catch (e) { fail(name, -1, `set-up or harness error: ${(e as Error).stack ?? String(e)}`) }
  const c = counts[name]
  const fc = faultCounts[name]
  if (FAULTS) console.log(`${name}: ${c.iterations} iterations, ${fc?.injected ?? 0} with a fault injected (${fc?.failedCoded ?? 0} failed with IO_ERROR/DISK_FULL, ${fc?.exit0Harmless ?? 0} succeeded harmlessly), ${c.repaired} repaired by a hint, ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  else console.log(`${name}: ${c.iterations} iterations, ${c.killed} killed, ${c.finished} finished first, ${c.repaired} repaired by a hint, ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  console.log(`  ${name}'s time: ${spentLine()}`)
}
writeFileSync(join(root, 'summary.json'), JSON.stringify({ seed: startSeed, faults: FAULTS, counts, faultCounts, failures }, null, 1))
if (failures.length === 0) rmSync(root, { recursive: true, force: true })
// The fault shim's state and log directories (test/helpers/fault-shim.ts makes them with tmpDir): a
// run left them in the system's temporary directory, as only a test file's end removed them.
removeTmpDirs()
console.log(failures.length === 0 ? 'no violation' : `${failures.length} violation(s); directories kept in ${root}`)
process.exit(failures.length === 0 ? 0 : 1)
