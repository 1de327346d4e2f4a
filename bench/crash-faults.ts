/**
 * The `--faults` lane of bench/crash-torture.ts (session 33): instead of a kill, one file operation
 * under the data directory fails (the Nth fsync, write, open or rename, with EIO or ENOSPC, once or
 * from then on), by the LD_PRELOAD shim of test/helpers/fault-shim.c. After each run: the command
 * ended (no hang) with exit 0 and no fault, or with a coded error (IO_ERROR, DISK_FULL), a hint and
 * no stack trace; exit 0 after an injected fault is allowed only where the fault cannot have lost
 * anything (SQLite's own directory fsync, whose failure SQLite ignores), never after a failed fsync
 * of data (fsyncgate); what was acknowledged is kept; the directory opens (or its hint repairs it);
 * no temporary file is left after a last clean command. The `read` and `adopt` lanes (session 34)
 * are in crash-faults-more.ts, the `append` path in crash-faults-append.ts.
 */
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Chain } from '../src/chain/index.js'
import { faultEnv, faultResult, type Fault, type FaultClass, type FaultSpec } from '../test/helpers/fault-shim.js'
import { codedError, petal, signBlocks, sleep, sqliteFile, start, type Run } from './crash-torture-proc.js'
import { faultAdopt, faultRead } from './crash-faults-more.js'
import { faultAppend } from './crash-faults-append.js'
import { receiptsKept } from './crash-receipts.js'

export interface Harness {
  iterations: number
  root: string
  rand: () => number
  fail: (path: string, i: number, what: string, detail?: string) => void
  tally: (path: string, killed: boolean) => void
  afterKill: (path: string, i: number, dir: string, limit?: number) => Promise<boolean>
  noLeftovers: (path: string, dir: string, after: Run) => void
}

const ALL: FaultClass[] = ['fsync', 'write', 'open', 'rename']
const verbose = process.argv.includes('--verbose')
const EXPECTED = new Set(['IO_ERROR', 'DISK_FULL'])
/** Counted calls of a command and class when no fault was injected: N is drawn in [1, it]. */
const calls: Record<string, number> = {}
export const faultCounts: Record<string, { injected: number, failedCoded: number, exit0Harmless: number }> = {}

interface Outcome { run: Run, injected: number, log: string[] }

/** `petal --dir DIR argv` under the fault `spec` (killed after 120 s: a hang), with what the shim counted. */
export async function runUnderFault (dir: string, argv: string[], spec: FaultSpec): Promise<{ run: Run, res: ReturnType<typeof faultResult> }> {
  const f = faultEnv(spec)
  const p = start(['--dir', dir, ...argv], f.env)
  const timer = setTimeout(() => { p.child.kill('SIGKILL') }, 120_000)
  const run = await p.done
  clearTimeout(timer)
  const res = faultResult(f)
  rmSync(join(f.state, '..'), { recursive: true, force: true })
  return { run, res }
}

/**
 * Run argv on dir with one fault drawn over its calls, and judge how it ended. By default N is
 * drawn over the most calls of that class the same command made in an earlier clean run (the first
 * run of a command and class only counts). `here`: over the calls it makes from dir as it is now,
 * counted on a copy of dir first, so that every run injects a fault; a class it does not use is
 * passed for the next. The append path's commands make as many calls as the state they find: the
 * first `append` creates pending.db (24 fsyncs), the next ones 2-3, so an N drawn over the first
 * was past every later append's calls, and with each of eight commands and classes spending its
 * first run counting, 4 iterations never failed one (sessions 41 and 42). The import path too
 * (session 44: a 100,000-row import writes far more than a 200-row one; seed 4403, 1 of 4).
 */
export async function faulted (h: Harness, path: string, i: number, dir: string, argv: string[], ops = ALL, here = false): Promise<Outcome> {
  let op = ops[Math.floor(h.rand() * ops.length)] as FaultClass
  let known: number | undefined
  if (here) ({ op, known } = await callsHere(dir, argv, ops, op))
  const key = `${argv.filter(a => !a.startsWith('/')).join(' ')} ${op}`
  if (!here) known = calls[key]
  const nth = known === undefined || (here && known === 0) ? 0 : 1 + Math.floor(h.rand() * known)
  // A read fails with EIO (a full disk does not fail reads).
  const errno = op === 'read' || h.rand() < 0.5 ? 'EIO' : 'ENOSPC'
  const sticky = (errno === 'ENOSPC' || op === 'read') && h.rand() < 0.5
  const { run, res } = await runUnderFault(dir, argv, { dir, ops: [op], nth, errno, sticky })
  judge(h, path, i, `${key}#${nth}${sticky ? '+' : ''} ${errno}`, run, res.injected, res.log)
  if (res.injected === 0) calls[key] = Math.max(calls[key] ?? 0, res.calls)
  return { run, injected: res.injected, log: res.log }
}

/** The first class of ops, from `first` on, of which argv makes calls on a copy of dir as it is, and how many. */
async function callsHere (dir: string, argv: string[], ops: FaultClass[], first: FaultClass): Promise<{ op: FaultClass, known: number }> {
  return await firstCounted(dir, ops, first, async (copy, op) => (await runUnderFault(copy, argv, { dir: copy, ops: [op], nth: 0 })).res.calls)
}

/**
 * The first class of ops, from `first` on, whose calls `count` finds on a fresh copy of dir as it
 * is, and how many (0 and `first` when none makes any).
 */
async function firstCounted (dir: string, ops: FaultClass[], first: FaultClass, count: (copy: string, op: FaultClass) => Promise<number>): Promise<{ op: FaultClass, known: number }> {
  const copy = `${dir}.count`
  const at = ops.indexOf(first)
  try {
    for (let k = 0; k < ops.length; k++) {
      const op = ops[(at + k) % ops.length] as FaultClass
      rmSync(copy, { recursive: true, force: true })
      cpSync(dir, copy, { recursive: true })
      const calls = await count(copy, op)
      if (calls > 0) return { op, known: calls }
    }
    return { op: first, known: 0 }
  } finally {
    rmSync(copy, { recursive: true, force: true })
  }
}

/**
 * An injected fault after which exit 0 loses nothing: SQLite ignores a failed fsync of the
 * directory after it creates a journal or a WAL (unixSync); a failed fsync of a WAL-mode database
 * file is a checkpoint's, which SQLite leaves undone (the WAL, fsynced at each commit, keeps the
 * pages and the next checkpoint copies them again); the query mirror (query.db) is derived: a
 * failed update is logged and the next query catches up (checked by the paths' queries).
 */
function harmless (line: string): boolean {
  const [, op, , obj, target] = line.split(' ')
  if (target === undefined) return false
  // Derived or informational files whose writer logs a failure and goes on: the query mirror (the
  // next query catches up), the peers cache, the running node's and the write lock's records (and
  // their temporaries: `NAME[.n<ns>].PID.NONCE.tmp`, writer.json's `NAME[.n<ns>].PID.tmp`), and
  // chain.db's tip record (a hint to recovery: lost, recovery judges as it did without it).
  if (/\/(query\.db(-wal|-shm|-journal)?|peers\.json|node-state\.json|writer\.json|chain\.db-tip|index-tip\.json)((\.n\d+)?\.\d+(\.[0-9a-f]+)?\.tmp)?$/.test(target)) return true
  // An open SQLite retries read-only: harmless unless the command needed to write (then it fails).
  if (op === 'open' && obj === 'better_sqlite3.node') return true
  if (obj !== 'better_sqlite3.node') return false
  if (op === 'pwrite') return /\.db$/.test(target) && existsSync(`${target}-wal`)
  if (op !== 'fsync' && op !== 'fdatasync') return false
  if (!/\.[a-z]+(-wal|-shm|-journal)?$/.test(target)) return true
  return /\.db$/.test(target) && existsSync(`${target}-wal`)
}

/**
 * A pull's failed creation or write of a download's file in the data directory's tmp/: the
 * download drops that file and the sync fetches the block again, so a pull that then reaches the
 * tip and exits 0 has lost nothing (mend37's seed 372). A fault that lasts is still reported: the
 * next attempt fails the same way and the pull stops with its DISK_FULL or IO_ERROR.
 */
function droppedDownload (line: string): boolean {
  const [, op, , , target] = line.split(' ')
  if (target === undefined || !/^(open|openat|write|pwrite|writev|pwritev)$/.test(op ?? '')) return false
  return /\/tmp\/[^/]+$/.test(target) && existsSync(join(dirname(dirname(target)), 'chainparams.json'))
}

export function judge (h: Harness, path: string, i: number, what: string, run: Run, injected: number, log: string[]): void {
  const c = faultCounts[path] ??= { injected: 0, failedCoded: 0, exit0Harmless: 0 }
  h.tally(path, injected > 0)
  if (run.signal === 'SIGKILL') { h.fail(path, i, `${what}: hung (killed after 120 s)`, run.stderr); return }
  if (injected === 0) {
    if (run.code !== 0 && run.signal === null) h.fail(path, i, `${what}: exit ${run.code} with no fault injected`, run.stderr)
    return
  }
  c.injected++
  if (verbose) console.log(`  ${path} #${i} ${what}: exit ${run.code ?? run.signal} ${codedError(run.stderr)?.code ?? ''} ${log.map(l => l.split(' ').slice(1).join(' ')).join(' | ')}`)
  if (run.code === 0 || (run.signal === 'SIGTERM' && run.code === null)) {
    if (log.every(l => harmless(l) || (path === 'pull' && droppedDownload(l)))) { c.exit0Harmless++; return }
    h.fail(path, i, `${what}: exit 0 after an injected fault${log.some(l => / f(data)?sync /.test(l)) ? ' (fsyncgate: a failed fsync reported as success)' : ''}`, log.join('\n') + '\n' + run.stderr)
    return
  }
  const e = codedError(run.stderr)
  if (e === undefined) { h.fail(path, i, `${what}: exit ${run.code} with no coded error`, log.join('\n') + '\n' + run.stderr); return }
  if (/\n\s+at .+:\d+:\d+/.test(run.stderr)) h.fail(path, i, `${what}: a stack trace on stderr [${e.code}]`, run.stderr)
  if (!/hint: /.test(run.stderr)) h.fail(path, i, `${what}: [${e.code}] with no hint`, run.stderr)
  // SQLite's read-only retry of a refused open, reported where the path is not known: the hint names the disk.
  const readOnlyRetry = e.code === 'PERMISSION_DENIED' && /the disk refused/.test(run.stderr) && log.some(l => / open(at)? \d+ better_sqlite3/.test(l))
  if (!EXPECTED.has(e.code) && !readOnlyRetry) h.fail(path, i, `${what}: [${e.code}], not IO_ERROR or DISK_FULL`, log.join('\n') + '\n' + run.stderr)
  else c.failedCoded++
}

export function tip (dirStatus: Run): { height: number, hash: string } {
  return (JSON.parse(dirStatus.stdout) as { tip: { height: number, hash: string } }).tip
}

export async function newChain (dir: string): Promise<void> {
  const r = await petal(['--dir', dir, 'init'])
  if (r.code !== 0) throw new Error(`init: ${r.stderr}`)
}

async function faultImport (h: Harness): Promise<void> {
  const dir = join(h.root, 'f-import')
  await newChain(dir)
  const acked = new Map<number, string>()
  let rows = 0
  for (let i = 0; i < h.iterations; i++) {
    const before = tip(await petal(['--dir', dir, '--json', 'status']))
    const n = h.rand() < 0.2 ? 100_000 : 1 + Math.floor(h.rand() * 200)
    const src = sqliteFile(join(h.root, 'src.db'), n, i)
    const { run } = await faulted(h, 'import', i, dir, ['--json', 'signimportblock', src], ALL, true)
    if (run.code === 0) { const r = JSON.parse(run.stdout) as { height: number, hash: string }; acked.set(r.height, r.hash) }
    if (!await h.afterKill('import', i, dir)) return
    if (tip(await petal(['--dir', dir, '--json', 'status'])).height > before.height) rows += n
    // The query mirror catches up whatever failed in it.
    const q = await petal(['--dir', dir, 'query', 'SELECT count(*) AS n FROM t'])
    const got = q.code === 0 ? (JSON.parse(q.stdout.trim()) as { n: number }).n : undefined
    if (got !== rows && !(rows === 0 && /QUERY_(NO_SUCH|UNKNOWN)_TABLE/.test(codedError(q.stderr)?.code ?? ''))) h.fail('import', i, `the query mirror holds ${got ?? 'nothing'} rows, the chain ${rows}`, q.stderr)
    const now = tip(await petal(['--dir', dir, '--json', 'status']))
    if (now.height !== before.height && now.height !== before.height + 1) h.fail('import', i, `tip ${now.height} is neither the old ${before.height} nor the next`)
    if (run.code !== 0 && now.height !== before.height) h.fail('import', i, `the failed import's block is at the tip ${now.height}`)
    const c = Chain.open(dir, { readonly: true })
    try { for (const [ht, hash] of acked) if (c.get(ht)?.hash !== hash) h.fail('import', i, `acknowledged block ${ht} lost`) } finally { c.close() }
  }
  h.noLeftovers('import', dir, await petal(['--dir', dir, 'signimportblock', sqliteFile(join(h.root, 'src.db'), 3, 0)]))
}

/** One node session of the run path: the node under the fault f, 2.5 s of POSTs, then SIGTERM. */
async function runSession (dir: string, i: number, token: string, f: Fault, sticky: boolean): Promise<{ run: Run, acked: string[], bad: string[] }> {
  const p = start(['--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', '127.0.0.1:0', '--seal-every', '0.2'], f.env)
  let dead = false
  void p.done.then(() => { dead = true })
  const bad: string[] = []
  const acked: string[] = []
  let url: string | undefined
  for (let w = 0; w < 1200 && !dead && url === undefined; w++) { url = /^(http:\/\/\S+)$/m.exec(p.out())?.[1]; if (url === undefined) await sleep(25) }
  const until = performance.now() + 2500
  for (let n = 0; !dead && url !== undefined && performance.now() < until; n++) {
    const rows = Array.from({ length: 1 + (n % 20) }, (_, k) => ({ w: i, n, k }))
    // Every other POST is CSV in a spelling the lean lane leaves to Fastify (session 34).
    const csv = n % 2 === 1
    const body0 = csv ? 'w,n,k\n' + rows.map(r => `${r.w},${r.n},${r.k}`).join('\n') + '\n' : JSON.stringify(rows)
    const failedBefore = sticky && faultResult(f).injected > 0
    const r = await fetch(url + 'api/v1/records/kept', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': csv ? 'text/csv; charset=UTF-8' : 'application/json' }, body: body0 }).catch(() => undefined)
    if (r === undefined) continue
    const body = await r.text()
    if (r.status === 202 && failedBefore) bad.push(`202 after the disk's fsyncs began to fail (fsyncgate): ${body.slice(0, 200)}`)
    if (r.status === 202) acked.push(...(JSON.parse(body) as { receipts: string[] }).receipts)
    else if (!/"code":"(IO_ERROR|DISK_FULL)"/.test(body)) bad.push(`${r.status} ${body.slice(0, 300)}`)
  }
  p.child.kill('SIGTERM')
  const timer = setTimeout(() => { p.child.kill('SIGKILL') }, 60_000)
  const run = await p.done
  clearTimeout(timer)
  return { run, acked, bad }
}

/**
 * The calls of the first class of ALL, from `first` on, that a node session makes from dir as it
 * is, counted on a copy (as callsHere does for a command). N was drawn over the most calls seen in
 * an earlier session of that class, and each class's first session only counted: with four
 * classes, most of a short run's iterations injected nothing (temps44: 1 of 4, seed 4403).
 */
async function sessionCallsHere (dir: string, i: number, token: string, first: FaultClass): Promise<{ op: FaultClass, known: number }> {
  return await firstCounted(dir, ALL, first, async (copy, op) => {
    const f = faultEnv({ dir: copy, ops: [op], nth: 0 })
    await runSession(copy, i, token, f, false)
    const calls = faultResult(f).calls
    rmSync(join(f.state, '..'), { recursive: true, force: true })
    return calls
  })
}

async function faultRun (h: Harness): Promise<void> {
  const dir = join(h.root, 'f-run')
  await newChain(dir)
  const token = (await petal(['--dir', dir, 'tokens', 'create'])).stdout.trim()
  const acked: string[] = []
  for (let i = 0; i < h.iterations; i++) {
    const { op, known } = await sessionCallsHere(dir, i, token, ALL[Math.floor(h.rand() * ALL.length)] as FaultClass)
    const key = `run ${op}`
    const nth = known === 0 ? 0 : 1 + Math.floor(h.rand() * known)
    const errno = h.rand() < 0.5 ? 'EIO' : 'ENOSPC'
    // A disk whose fsyncs keep failing (mend35): a POST may be acknowledged after a failed fsync
    // of pending.db-wal once the log's re-write made it durable (fsync34's fix 3), which needs
    // fsyncs that succeed; with every fsync failing, a POST sent after the fault is never a 202.
    const sticky = op === 'fsync' && h.rand() < 0.3
    const f = faultEnv({ dir, ops: [op], nth, errno, sticky })
    const { run, acked: got, bad } = await runSession(dir, i, token, f, sticky)
    acked.push(...got)
    const res = faultResult(f)
    rmSync(join(f.state, '..'), { recursive: true, force: true })
    if (bad.length > 0) h.fail('run', i, `${key}#${nth}${sticky ? '+' : ''} ${errno}: ${bad.length} request(s) answered wrongly (refused without IO_ERROR/DISK_FULL, or acknowledged on a failing disk)`, bad.slice(0, 3).join('\n'))
    // A node may go on after a failed write (the POST refused with its code, the seal tried again
    // later) and end by the SIGTERM with 0: what counts is that nothing acknowledged is lost (below).
    if (run.code === 0 && res.injected > 0) {
      h.tally('run', true)
      const c = faultCounts.run ??= { injected: 0, failedCoded: 0, exit0Harmless: 0 }
      c.injected++; c.exit0Harmless++
      console.log(`  run #${i} ${key}#${nth}${sticky ? '+' : ''} ${errno}: the node went on; ${res.log.join(' | ')}${run.stderr === '' ? '' : '\n    ' + run.stderr.trim().split('\n').slice(0, 4).join('\n    ')}`)
    } else judge(h, 'run', i, `${key}#${nth}${sticky ? '+' : ''} ${errno}`, run, res.injected, res.log)
    if (!await h.afterKill('run', i, dir)) return
    await receiptsKept(h, 'run', i, dir, acked)
  }
  console.log(`  run: ${acked.length} acknowledged rows checked`)
  h.noLeftovers('run', dir, await petal(['--dir', dir, 'seal']))
}

async function faultPull (h: Harness): Promise<void> {
  const sDir = join(h.root, 'f-pull-source')
  await newChain(sDir)
  for (let b = 0; b < 20; b++) await petal(['--dir', sDir, 'signimportblock', sqliteFile(join(h.root, 'psrc.db'), b % 8 === 0 ? 30_000 : 20, b)])
  const s = start(['--dir', sDir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', 'off'])
  let addr: string | undefined
  for (let w = 0; w < 600 && addr === undefined; w++) { addr = /^(\/ip4\/\S+\/p2p\/\S+)$/m.exec(s.out())?.[1]; await sleep(50) }
  if (addr === undefined) throw new Error('source node did not start')
  const want = tip(await petal(['--dir', sDir, '--json', 'status'])).hash
  try {
    for (let i = 0; i < h.iterations; i++) {
      const dir = join(h.root, `f-pull-${i}`)
      mkdirSync(dir)
      const { run } = await faulted(h, 'pull', i, dir, ['--json', 'pull', addr])
      if (run.code === 0 && (JSON.parse(run.stdout) as { hash: string }).hash !== want) h.fail('pull', i, 'pull acknowledged another tip')
      // Running the pull again finishes it (cli.md), whatever the fault left.
      const again = await petal(['--dir', dir, '--json', 'pull', addr])
      if (again.code !== 0) { h.fail('pull', i, `the pull run again failed (exit ${again.code})`, again.stderr); continue }
      if (await h.afterKill('pull', i, dir)) h.noLeftovers('pull', dir, again)
      rmSync(dir, { recursive: true, force: true })
    }
  } finally { s.child.kill('SIGTERM'); await s.done }
}

/**
 * The reindex, keys and init paths draw their fault over the calls the command makes from the
 * directory as it is (`faulted`'s `here`): with N drawn over an earlier clean run's calls, each
 * command and class's first run only counted, and 6 iterations injected 1 fault on reindex (three
 * commands), none on keys (each token's name made its own command) and 2 on init (seed 5250,
 * session 52).
 */
async function faultReindex (h: Harness): Promise<void> {
  const dir = join(h.root, 'f-reindex')
  await newChain(dir)
  const rows = Array.from({ length: 30 }, (_, b) => b % 10 === 0 ? 20_000 : 30)
  await signBlocks(dir, rows.length, b => sqliteFile(join(h.root, 'rsrc.db'), rows[b] as number, b))
  const total = rows.reduce((a, b) => a + b, 0)
  const want = tip(await petal(['--dir', dir, '--json', 'status'])).hash
  for (let i = 0; i < h.iterations; i++) {
    const argv = [['reindex'], ['reindex', '--query'], ['reindex', '--deep']][i % 3] as string[]
    await faulted(h, 'reindex', i, dir, argv, ALL, true)
    if (!await h.afterKill('reindex', i, dir)) return
    if (tip(await petal(['--dir', dir, '--json', 'status'])).hash !== want) h.fail('reindex', i, 'the tip changed')
    // The query mirror, rebuilt or not, holds every row of the chain (or its hint rebuilds it).
    const count = async (): Promise<Run> => await petal(['--dir', dir, 'query', 'SELECT count(*) AS n FROM t'])
    let q = await count()
    if (q.code !== 0) {
      const e = codedError(q.stderr)
      const r = e?.command === undefined ? undefined : await petal(['--dir', dir, ...e.command.split(/\s+/).slice(1)])
      const q2 = await count()
      if (r?.code !== 0 || q2.code !== 0) { h.fail('reindex', i, `query failed and its hint did not repair it (${e?.code ?? 'no code'})`, q.stderr + (r?.stderr ?? '')); continue }
      q = q2
    }
    const n = (JSON.parse(q.stdout.trim()) as { n: number }).n
    if (n !== total) h.fail('reindex', i, `the query mirror holds ${n} rows, the chain ${total}`)
  }
  h.noLeftovers('reindex', dir, await petal(['--dir', dir, 'reindex']))
}

async function faultKeys (h: Harness): Promise<void> {
  const dir = join(h.root, 'f-keys')
  await newChain(dir)
  const tokens: string[] = []
  const keys: string[] = []
  const revoked: string[] = []
  for (let i = 0; i < h.iterations; i++) {
    // A revoke takes the latest acknowledged token (a create the fault failed left none to revoke).
    const last = tokens.at(-1)
    const argv = i % 3 === 0 ? ['--json', 'keys', 'generate'] : i % 3 === 2 && last !== undefined ? ['tokens', 'revoke', last] : ['--json', 'tokens', 'create', '--name', `t${i}`]
    const { run } = await faulted(h, 'keys', i, dir, argv, ALL, true)
    if (run.code === 0) {
      if (argv[1] === 'keys') keys.push(String((JSON.parse(run.stdout) as { id: string }).id))
      else if (argv[2] === 'create') tokens.push(`t${i}`)
      else if (argv[1] === 'revoke' && last !== undefined) { tokens.pop(); revoked.push(last) }
    }
    if (!await h.afterKill('keys', i, dir)) return
    const tl = await petal(['--dir', dir, '--json', 'tokens', 'list'])
    const kl = await petal(['--dir', dir, '--json', 'keys', 'list'])
    if (tl.code !== 0) h.fail('keys', i, `tokens list exit ${tl.code}`, tl.stderr)
    if (kl.code !== 0) h.fail('keys', i, `keys list exit ${kl.code}`, kl.stderr)
    for (const k of keys) if (!kl.stdout.includes(k)) h.fail('keys', i, `acknowledged key ${k} lost`)
    for (const t of tokens) if (!tl.stdout.includes(`"${t}"`)) h.fail('keys', i, `acknowledged token ${t} lost`)
    // An acknowledged revoke stays: the token is gone.
    for (const t of revoked) if (tl.stdout.includes(`"${t}"`)) h.fail('keys', i, `revoked token ${t} is back`)
  }
  const key = await petal(['--dir', dir, 'keys', 'generate'])
  if (key.code !== 0) h.fail('keys', h.iterations, `the final keys generate failed (exit ${key.code})`, key.stderr)
  h.noLeftovers('keys', dir, await petal(['--dir', dir, 'tokens', 'create', '--name', 'last']))
}

async function faultInit (h: Harness): Promise<void> {
  for (let i = 0; i < h.iterations; i++) {
    const dir = join(h.root, `f-init-${i}`)
    mkdirSync(dir)
    await faulted(h, 'init', i, dir, ['init'], ALL, true)
    const again = await petal(['--dir', dir, 'init'])
    if (again.code !== 0) { h.fail('init', i, `init after the fault exit ${again.code}`, again.stderr); continue }
    if (await h.afterKill('init', i, dir)) h.noLeftovers('init', dir, await petal(['--dir', dir, 'signimportblock', sqliteFile(join(h.root, 'isrc.db'), 3, i)]))
    rmSync(dir, { recursive: true, force: true })
  }
}

export function faultPaths (h: Harness): Record<string, () => Promise<void>> {
  return { import: async () => { await faultImport(h) }, append: async () => { await faultAppend(h) }, run: async () => { await faultRun(h) }, pull: async () => { await faultPull(h) }, reindex: async () => { await faultReindex(h) }, keys: async () => { await faultKeys(h) }, init: async () => { await faultInit(h) }, read: async () => { await faultRead(h) }, adopt: async () => { await faultAdopt(h) } }
}
