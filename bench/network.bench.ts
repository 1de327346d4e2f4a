// `npm run bench -- network`: pull throughput against a raw libp2p stream of the same bytes,
// propagation of a new block to 10 nodes, memory of a node holding 10,000 blocks.
// PETAL_BENCH_SCALE=0.1 runs a tenth of every size (for a quick look); PETAL_BENCH_ONLY picks parts;
// PETAL_BENCH_TRACE_GC=1 runs every node process with --trace-gc (its lines in the bench's output).
// Before the pull and the catch-up: `sync`, then PETAL_BENCH_SETTLE_MS of idle (default 5000), and
// until a minute has passed since the bench's own last deletion (PETAL_BENCH_DELETION_WAIT=0: not): settle.ts.
// PETAL_BENCH_FLAGS='--trace-opt --trace-deopt' with PETAL_BENCH_FLAGS_FOR=N gives the N-th node process
// started (0 first; with PETAL_BENCH_ONLY=catchup: 0 serves, 1 the reference, 2 pulls) those Node/V8 flags.
import '../src/polyfills.js'
import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Chain, createChain, installGenesis, signImport } from '../src/chain/index.js'
import { importPrivateKey, privateKeyToPem, generateSigningKey, type SigningKey } from '../src/crypto/index.js'
import { DataDir, DEFAULT_CONSENSUS } from '../src/storage/index.js'
import { benchCacheDir } from './cache.js'
import { printTable, type Row } from './report.js'
import { removeAndMark, settle } from './settle.js'
import type { SyncFloor } from './sync-floor.js'

const SCALE = Number(process.env.PETAL_BENCH_SCALE ?? '1')
const BIG_BLOCKS = Math.max(10, Math.round(1000 * SCALE))
const SMALL_BLOCKS = Math.max(100, Math.round(10_000 * SCALE))
const PROP_NODES = Number(process.env.PETAL_BENCH_PROP_NODES ?? '10')
const PROP_ROUNDS = Math.max(5, Math.round(20 * SCALE))
const CACHE = benchCacheDir('network')
const work = mkdtempSync(join(tmpdir(), 'petal-bench-'))
process.on('exit', () => { removeAndMark(work, CACHE) })
const MiB = 1024 * 1024
const log = (s: string): void => { process.stderr.write(`[network bench] ${s}\n`) }

// ---- worker processes ----

interface Worker { proc: ChildProcess, call: (cmd: string, args?: Record<string, unknown>) => Promise<Record<string, unknown>>, events: Array<Record<string, unknown>> }

// PETAL_BENCH_PROF=DIR: every node process writes CPU profiles (`--cpu-prof`) to DIR/worker-N when it stops.
const PROF = process.env.PETAL_BENCH_PROF
let workers = 0

async function worker (): Promise<Worker> {
  // One directory per process: its main thread, worker threads and tsx's loader thread each write a profile.
  const prof = PROF === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', join(PROF, `worker-${workers}`)]
  const extra = process.env.PETAL_BENCH_FLAGS_FOR === String(workers) ? (process.env.PETAL_BENCH_FLAGS ?? '').split(' ').filter(Boolean) : []
  workers++
  const proc = fork(join(import.meta.dirname, 'network-worker.ts'), [], { execArgv: ['--import', 'tsx', '--expose-gc', ...(process.env.PETAL_BENCH_TRACE_GC === '1' ? ['--trace-gc'] : []), ...prof, ...extra], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const pending = new Map<number, (m: Record<string, unknown>) => void>()
  const events: Array<Record<string, unknown>> = []
  let next = 0
  await new Promise<void>(resolve => {
    proc.on('message', (m: Record<string, unknown>) => {
      if (m.ready === true) { resolve(); return }
      if (typeof m.id === 'number') { pending.get(m.id)?.(m); pending.delete(m.id) } else events.push(m)
    })
  })
  const call = async (cmd: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> => await new Promise((resolve, reject) => {
    const id = next++
    pending.set(id, m => { if (m.ok === true) resolve(m); else reject(new Error(`${cmd}: ${String(m.error)}`)) })
    proc.send({ cmd, id, ...args })
  })
  return { proc, call, events }
}

async function stop (...ws: Worker[]): Promise<void> {
  await Promise.all(ws.map(async w => {
    const exited = new Promise(resolve => w.proc.once('exit', resolve))
    await w.call('stop').catch(() => {})
    await exited
  }))
}

// ---- chains (cached between runs: building them takes minutes) ----

function sqliteFile (path: string, rows: number, rowBytes: number): string {
  const db = new Database(path)
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)')
  const ins = db.prepare('INSERT INTO t (b) VALUES (?)')
  db.transaction(() => { for (let i = 0; i < rows; i++) ins.run(randomBytes(rowBytes)) })()
  db.close()
  return path
}

/** A chain of `n` blocks built from `source` (same content, distinct blocks), cached under `name`. */
async function cachedChain (name: string, n: number, rows: number, rowBytes: number): Promise<{ dir: string, key: SigningKey }> {
  const dir = join(CACHE, `${name}-${n}`)
  const keyFile = join(CACHE, `${name}-${n}.key`)
  if (existsSync(join(dir, 'complete')) && existsSync(keyFile)) {
    // A serving node started on the cache leaves its pending store beside the chain: node state,
    // no part of the chain, in a layout an older build refuses (session 36's old-build runs failed
    // at start on a pending.db a newer build had upgraded). It holds no rows: start without it.
    for (const f of ['pending.db', 'pending.db-wal', 'pending.db-shm']) rmSync(join(dir, f), { force: true })
    try {
      const c = Chain.open(dir)
      const ok = c.tip().height === n
      c.close()
      if (ok) return { dir, key: importPrivateKey((await import('node:fs')).readFileSync(keyFile, 'utf8')) }
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(CACHE, { recursive: true })
  const key = generateSigningKey()
  writeFileSync(keyFile, privateKeyToPem(key), { mode: 0o600 })
  const chain = await createChain(dir, { creator: 'bench', description: name, bootstrapPeers: [], consensus: DEFAULT_CONSENSUS }, key)
  const src = sqliteFile(join(work, `${name}.db`), rows, rowBytes)
  const started = performance.now()
  for (let i = 1; i <= n; i++) {
    await signImport(chain, src, key)
    if (i % 500 === 0) log(`building ${name}: ${i}/${n} blocks (${((performance.now() - started) / i).toFixed(0)} ms/block)`)
  }
  // The serving node's query mirror, built here: a node started on a chain it has not mirrored
  // builds its mirror on one of its threads (for the 1 MB chain, ~1 GB of rows written while the
  // first run's pull measured: session 42). Later runs find it up to date, as a served chain is.
  const { QueryMirror } = await import('../src/query/index.js')
  const mirror = QueryMirror.open(chain)
  await mirror.sync()
  mirror.close()
  chain.close()
  writeFileSync(join(dir, 'complete'), '')
  return { dir, key }
}

/** An empty data directory of the same chain (genesis only). */
async function genesisCopy (dir: string): Promise<string> {
  const c = Chain.open(dir)
  const root = mkdtempSync(join(work, 'g-'))
  const g = join(root, 'genesis.db')
  copyFileSync(c.dir.blockPath(0), g)
  copyFileSync(c.dir.blockPath(0).replace(/\.db$/, '.sig'), g.replace(/\.db$/, '.sig'))
  const params = c.params
  c.close()
  const out = join(root, 'data')
  ;(await installGenesis(new DataDir(out), params, g)).close()
  return out
}

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] as number }
const mib = (b: number): number => b / MiB

// ---- 1. pull throughput ----

async function benchPull (): Promise<Row[]> {
  const { dir } = await cachedChain('big', BIG_BLOCKS, 1000, 1000)
  const server = await worker()
  const client = await worker()
  try {
    const { addr } = await server.call('serve', { dir }) as { addr: string }
    // Warm the server's page cache and both processes (a loaded machine can time a dial out: retry).
    for (let i = 0; ; i++) {
      try { await client.call('raw', { addr }); break } catch (err) { if (i >= 2) throw err; log(`raw warm-up failed, retrying: ${String(err).slice(0, 120)}`) }
    }
    const settled = await settle('the pull', CACHE, log)
    const before = (await client.call('rss')).rss as number
    await server.call('sample-start')
    const pulled = await client.call('pull', { dir: join(work, 'pulled-big'), from: addr }) as { totalMs: number, syncMs: number, bytes: number, blocks: number, peakRss: number, cpuMs: number, threadsMs?: Record<string, number>, pauses: number, pooledMs: number }
    const served = await server.call('sample-stop') as { cpuMs: number }
    const { raw, floor } = await measureFloor(server, client, addr, dir, Math.min(200, BIG_BLOCKS))
    const rawRate = mib(raw.bytes) / (raw.ms / 1000)
    const perBlock = pulled.bytes / pulled.blocks
    const floorMs = floorCpuMs(raw, floor, perBlock)
    const checkedMs = floorCpuMs(raw, floor, perBlock, true)
    const local = await client.call('import-local', { from: dir, to: await genesisCopy(dir), count: BIG_BLOCKS }) as { ms: number, bytes: number }
    const localRate = mib(local.bytes) / (local.ms / 1000)
    log(`pull: ${pulled.blocks} blocks, ${mib(pulled.bytes).toFixed(0)} MiB; raw: ${mib(raw.bytes).toFixed(0)} MiB`)
    const mirror = await client.call('mirror', { dir: join(work, 'pulled-big') }) as { ms: number, blocks: number, before: number, peakRss: number }
    return [
      { figure: `pull ${BIG_BLOCKS} × 1 MB blocks, sync phase`, value: mib(pulled.bytes) / (pulled.syncMs / 1000), unit: 'MiB/s', reference: 'raw libp2p stream, same bytes, same processes', refValue: rawRate, better: 'higher', note: `range writes through the thread pool: ${pulled.pauses} pause(s), ${(pulled.pooledMs / 1000).toFixed(1)} s of ${(pulled.syncMs / 1000).toFixed(1)} s; started after ${settled}` },
      { figure: `pull ${BIG_BLOCKS} × 1 MB blocks, sync phase`, value: mib(pulled.bytes) / (pulled.syncMs / 1000), unit: 'MiB/s', reference: 'importing the same files locally, one at a time (no network)', refValue: localRate, better: 'higher' },
      // The floor: what every block costs whatever the pipeline does, summed over both processes,
      // on two cores free of anything else. The pull cannot beat it.
      { figure: 'pull bound on 2 free cores by the floor of CPU per block (both processes)', value: mib(perBlock) * 2000 / floorMs.total, unit: 'MiB/s', reference: 'raw libp2p stream, same bytes, same processes', refValue: rawRate, better: 'higher', note: `floor ${floorMs.total.toFixed(2)} ms per block: ${floorMs.parts}; the pull itself: ${(pulled.cpuMs / pulled.blocks).toFixed(2)} (${byThread(pulled.threadsMs, pulled.blocks, ' + ')}) + ${(served.cpuMs / pulled.blocks).toFixed(2)} ms` },
      // The same with the block's consensus checks in place of the quick_check alone: what validation requires.
      { figure: 'pull bound on 2 free cores by the floor with the block\'s own checks (both processes)', value: mib(perBlock) * 2000 / checkedMs.total, unit: 'MiB/s', reference: 'raw libp2p stream, same bytes, same processes', refValue: rawRate, better: 'higher', note: `floor ${checkedMs.total.toFixed(2)} ms per block: ${checkedMs.parts}` },
      { figure: `pull ${BIG_BLOCKS} × 1 MB blocks, incl. final verify`, value: mib(pulled.bytes) / (pulled.totalMs / 1000), unit: 'MiB/s', reference: 'raw libp2p stream', refValue: rawRate, better: 'higher' },
      { figure: `pulling process, peak RSS (${BIG_BLOCKS} × 1 MB blocks)`, value: mib(pulled.peakRss), unit: 'MiB', reference: 'same process before the pull', refValue: mib(before), better: 'lower' },
      { figure: `query mirror built over the ${BIG_BLOCKS} pulled blocks, peak RSS`, value: mib(mirror.peakRss), unit: 'MiB', reference: 'same process before the update', refValue: mib(mirror.before), better: 'lower', note: `${(mib(pulled.bytes) / (mirror.ms / 1000)).toFixed(0)} MiB/s` }
    ]
  } finally {
    await stop(server, client)
    removeAndMark(join(work, 'pulled-big'), CACHE)
  }
}

// ---- 2. propagation to 10 nodes ----

async function benchPropagation (): Promise<Row[]> {
  const key = generateSigningKey()
  const pubDir = join(work, 'prop-pub')
  const chain = await createChain(pubDir, { creator: 'bench', description: 'propagation', bootstrapPeers: [], consensus: DEFAULT_CONSENSUS }, key)
  chain.close()
  const pem = privateKeyToPem(key)
  const publisher = await worker()
  const nodes: Worker[] = []
  try {
    const pub = await publisher.call('prop-node', { dir: pubDir, key: pem }) as { addr: string }
    const addrs = [pub.addr]
    for (let i = 0; i < PROP_NODES; i++) {
      const w = await worker()
      // Each node is told about one earlier node only; the DHT does the rest.
      const r = await w.call('prop-node', { dir: await genesisCopy(pubDir), bootstrap: [addrs[Math.floor(Math.random() * addrs.length)]] }) as { addr: string }
      addrs.push(r.addr)
      nodes.push(w)
    }
    await waitUntil(async () => (await Promise.all(nodes.map(async n => (await n.call('peers')).subscribers as number))).every(s => s >= 1), 30_000)
    const src = sqliteFile(join(work, 'prop.db'), 100, 1000) // ~100 KiB blocks
    const imported: number[] = []
    const gossiped: number[] = []
    for (let round = 0; round < PROP_ROUNDS; round++) {
      const { hash, t0 } = await publisher.call('publish', { file: src, key: pem }) as { hash: string, t0: number }
      const times = await waitUntil(() => {
        const got = nodes.map(n => n.events.find(e => e.ev === 'imported' && e.hash === hash)?.t as number | undefined)
        return got.every(t => t !== undefined) ? got as number[] : undefined
      }, 30_000)
      imported.push(...times.map(t => t - t0))
      for (const n of nodes) {
        const a = n.events.find(e => e.ev === 'announced' && e.hash === hash)?.t as number | undefined
        if (a !== undefined) gossiped.push(a - t0)
      }
    }
    log(`propagation: ${imported.length} deliveries, ${gossiped.length} announcements seen, fastest ${Math.min(...imported)} ms`)
    const local = await nodes[0]?.call('import-local', { from: pubDir, to: await genesisCopy(pubDir), count: PROP_ROUNDS }) as { ms: number, blocks: number }
    return [
      { figure: `new block (~100 KiB) imported by each of ${PROP_NODES} nodes, p50`, value: pct(imported, 50), unit: 'ms', reference: 'its gossip announcement received, p50', refValue: pct(gossiped, 50), better: 'lower' },
      { figure: `new block imported by each of ${PROP_NODES} nodes, p95`, value: pct(imported, 95), unit: 'ms', reference: 'its gossip announcement received, p95', refValue: pct(gossiped, 95), better: 'lower' },
      { figure: 'new block imported by each node, p50', value: pct(imported, 50), unit: 'ms', reference: 'importing that block from a local file (one node, quiet)', refValue: local.ms / local.blocks, better: 'lower' }
    ]
  } finally {
    await stop(publisher, ...nodes)
  }
}

// ---- the floor of a sync's CPU per block ----

interface Raw { ms: number, bytes: number, cpuMs: number, servedCpuMs: number }

/** The raw stream of `dir`'s block files (CPU of both processes) and the per-block parts of sync-floor.ts on `count` of its blocks. */
async function measureFloor (server: Worker, client: Worker, addr: string, dir: string, count: number): Promise<{ raw: Raw, floor: SyncFloor }> {
  await server.call('sample-start')
  const raw = await client.call('raw', { addr }) as { ms: number, bytes: number, cpuMs: number }
  const served = await server.call('sample-stop') as { cpuMs: number }
  const floor = await client.call('floor', { dir, work, count }) as SyncFloor & Record<string, unknown>
  return { raw: { ...raw, servedCpuMs: served.cpuMs }, floor }
}

/**
 * The floor per block of `blockBytes`: receiving and serving it as raw bytes, hashing it, two
 * signatures, two new files, SQLite's quick_check. `withChecks`: the block's whole check as Petal
 * runs it (the consensus rules, the manifest first) in place of the quick_check alone.
 */
function floorCpuMs (raw: Raw, f: SyncFloor, blockBytes: number, withChecks = false): { total: number, parts: string } {
  const share = blockBytes / raw.bytes
  const parts: Array<[string, number]> = [
    ['raw stream received', raw.cpuMs * share], ['raw stream served', raw.servedCpuMs * share], ['SHA-256', f.sha256],
    ['two signatures', f.signatures], ['two new files (written, fsynced, renamed)', f.files],
    withChecks ? ['the block\'s checks (readBlockFile on held bytes)', f.checks] : ['SQLite open + quick_check + close', f.sqlite]
  ]
  return { total: parts.reduce((s, [, ms]) => s + ms, 0), parts: parts.map(([k, ms]) => `${k} ${ms.toFixed(2)}`).join(', ') + ' ms' }
}

async function waitUntil<T> (f: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error('benchmark condition timed out')
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

// ---- 3. memory ----

/** `full` false: the catch-up rate and its local reference only (PETAL_BENCH_ONLY=catchup, for iterating). */
async function benchMemory (full = true): Promise<Row[]> {
  const { dir } = await cachedChain('small', SMALL_BLOCKS, 1, 32)
  const server = await worker()
  const ref = await worker()
  const client = await worker()
  try {
    const { addr } = await server.call('serve', { dir }) as { addr: string }
    await ref.call('serve', { dir: await genesisCopy(dir) })
    // The idle time also lets both nodes' start-up settle before their idle RSS is read.
    const settled = await settle('the catch-up', CACHE, log)
    const idle = (await server.call('rss')).rss as number
    const refIdle = (await ref.call('rss')).rss as number
    await server.call('sample-start')
    const before = (await client.call('rss')).rss as number
    const pulled = await client.call('pull', { dir: join(work, 'pulled-small'), from: addr }) as { totalMs: number, syncMs: number, blocks: number, maxGapMs: number, peakRss: number, cpuMs: number, threadsMs?: Record<string, number> }
    const served = await server.call('sample-stop') as { peak: number, cpuMs: number }
    const serving = served.peak
    const rate = pulled.blocks / (pulled.syncMs / 1000)
    const local = await client.call('import-local', { from: dir, to: await genesisCopy(dir), count: Math.min(1000, SMALL_BLOCKS) }) as { ms: number, blocks: number }
    const catchUp: Row = { figure: `catch-up rate of the pulling node`, value: rate, unit: 'blocks/s', reference: 'importing the same files locally, one at a time (no network)', refValue: local.blocks / (local.ms / 1000), better: 'higher', note: `longest time without progress: ${pulled.maxGapMs.toFixed(0)} ms; started after ${settled}` }
    // CPU per block (all threads of each process) hardly depends on the machine's load: with the
    // two processes' sum, it bounds the rate a quiet 2-core machine can reach.
    const cpu: Row = { figure: 'catch-up CPU time per block, pulling process (all threads)', value: pulled.cpuMs / pulled.blocks, unit: 'ms', reference: 'serving process, same blocks', refValue: served.cpuMs / pulled.blocks, better: 'lower', note: `both: ${(2000 / ((pulled.cpuMs + served.cpuMs) / pulled.blocks)).toFixed(0)} blocks/s on 2 free cores; pulling process by thread: ${byThread(pulled.threadsMs, pulled.blocks, ', ')} ms` }
    const { raw, floor } = await measureFloor(server, client, addr, dir, Math.min(2000, SMALL_BLOCKS))
    const floorMs = floorCpuMs(raw, floor, raw.bytes / pulled.blocks)
    const bound: Row = { figure: 'catch-up floor: CPU per block that every block costs, both processes', value: floorMs.total, unit: 'ms', reference: 'catch-up CPU per block, both processes', refValue: (pulled.cpuMs + served.cpuMs) / pulled.blocks, better: 'lower', note: `${floorMs.parts}; bound on 2 free cores: ${(2000 / floorMs.total).toFixed(0)} blocks/s` }
    if (!full) return [catchUp, cpu, bound]
    const mirror = await client.call('mirror', { dir: join(work, 'pulled-small') }) as { ms: number, blocks: number, before: number, peakRss: number }
    return [
      { figure: `node holding ${SMALL_BLOCKS} blocks, idle RSS`, value: mib(idle), unit: 'MiB', reference: 'same node holding genesis only', refValue: mib(refIdle), better: 'lower' },
      { figure: `same node while serving a pull of all of them, peak RSS`, value: mib(serving), unit: 'MiB', reference: 'node holding genesis only, idle', refValue: mib(refIdle), better: 'lower' },
      { figure: `pulling node, peak RSS (${SMALL_BLOCKS} blocks behind)`, value: mib(pulled.peakRss), unit: 'MiB', reference: 'node holding genesis only, idle', refValue: mib(refIdle), better: 'lower' },
      { figure: `pulling process, peak RSS (${SMALL_BLOCKS} small blocks)`, value: mib(pulled.peakRss), unit: 'MiB', reference: 'same process before the pull', refValue: mib(before), better: 'lower' },
      { figure: `query mirror built over the ${SMALL_BLOCKS} pulled blocks, peak RSS`, value: mib(mirror.peakRss), unit: 'MiB', reference: 'same process before the update', refValue: mib(mirror.before), better: 'lower', note: `${(mirror.blocks / (mirror.ms / 1000)).toFixed(0)} blocks/s` },
      catchUp,
      cpu,
      bound
    ]
  } finally {
    await stop(server, ref, client)
    removeAndMark(join(work, 'pulled-small'), CACHE)
  }
}

// PETAL_BENCH_ONLY=pull,propagation,memory runs a subset; `catchup` is the catch-up rate of `memory` alone.
const only = (process.env.PETAL_BENCH_ONLY ?? 'pull,propagation,memory').split(',')
const rows: Row[] = []
log(`scale ${SCALE}; cached chains in ${CACHE}`)
if (only.includes('pull')) rows.push(...await benchPull())
if (only.includes('propagation')) rows.push(...await benchPropagation())
if (only.includes('memory')) rows.push(...await benchMemory())
else if (only.includes('catchup')) rows.push(...await benchMemory(false))
printTable('network (loopback, separate processes)', rows)

/**
 * CPU a block by kind of thread; each kind's kernel time is a part of it, shown in brackets, not
 * an addend (the kinds of `network-worker.ts`'s threadCpu).
 */
function byThread (threadsMs: Record<string, number> | undefined, blocks: number, sep: string): string {
  const t = threadsMs ?? {}
  return Object.entries(t).filter(([k]) => !k.endsWith(' in the kernel'))
    .map(([k, ms]) => {
      const kernel = t[`${k} in the kernel`]
      return `${k} ${(ms / blocks).toFixed(2)}${kernel !== undefined ? ` (in the kernel ${(kernel / blocks).toFixed(2)})` : ''}`
    })
    .join(sep)
}
