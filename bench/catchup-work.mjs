// Catch-up's per-block work in one process, without libp2p, on the built dist/ (`npm run build`):
// a HeaderFeed over a fake peer (each header's seal verified on this thread, as the real feed
// does), a DownloadScheduler whose fake range peer writes each block file from bytes held in
// memory (as the range receive does, with the file's first bytes), a warm LoadPool(2) and placement in groups, as a pull runs
// them. For instruction counts per block (docs/performance/catchup.md, "Session 10: catch-up"):
//   node bench/catchup-work.mjs SRC 1300 build     # once: a chain of 1,300 one-row blocks in SRC
//   valgrind --tool=callgrind --separate-threads=yes node bench/catchup-work.mjs SRC 200   (and 1200)
// and subtract the 200-block counts from the 1,200-block ones, thread by thread (start-up cancels).
// PROF=FILE writes a CPU profile of the main thread over the sync alone. WRITE=node:fs writes each
// block file by util/fs.ts's writeNewFileSync alone (before session 31), else as the range receive
// does (range-writes.ts's writeSmallBlock: into a file created ahead where the download gave one).
// CHURN=N creates and deletes N empty files beside the data directory before the measured part,
// as the benches' clean-ups before the catch-up do (ext4 then scans past those recently freed
// inodes for each new file: docs/performance/catchup.md, "Session 31: catch-up"). Besides the process's
// CPU a block, the line ends with the main thread's (schedstat) and its part in the kernel (ticks),
// and the CPU of the child processes it reaped (the syncfs helper's `sync -f` runs, until session 39).
import '../dist/polyfills.js'
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, rmSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import Database from 'better-sqlite3'
import { createChain, signImport, loadBlock, discardLoaded } from '../dist/chain/index.js'
import { DEFAULT_CONSENSUS, readSeal, stopSyncfsHelper } from '../dist/storage/index.js'
import { workChain } from './work-chain.mjs'
import { generateSigningKey } from '../dist/crypto/index.js'
import { headerOf } from '../dist/network/wire.js'
import { HeaderFeed } from '../dist/sync/header-feed.js'
import { DownloadScheduler } from '../dist/sync/download.js'
import { chainImporter } from '../dist/sync/importer.js'
import { DEFAULT_SYNC_OPTIONS } from '../dist/sync/options.js'
import { nullLogger, writeNewFileSync } from '../dist/util/index.js'
import { writeSmallBlock } from '../dist/network/protocols/range-writes.js'

const [src, nArg, mode] = process.argv.slice(2)
const nodeFsOnly = process.env.WRITE === 'node:fs'
const writeNew = (dest, bytes, made) => {
  if (nodeFsOnly && made !== true) writeNewFileSync(dest, [bytes], bytes.byteLength)
  else writeSmallBlock(dest, [bytes], bytes.byteLength, made)
}
const N = Number(nArg)
if (mode === 'build') {
  const key = generateSigningKey()
  const chain = await createChain(src, { creator: 'bench', description: 'small', bootstrapPeers: [], consensus: DEFAULT_CONSENSUS }, key)
  const f = join(tmpdir(), `catchup-work-src-${process.pid}.db`)
  const db = new Database(f); db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)'); db.prepare('INSERT INTO t (b) VALUES (?)').run(Buffer.alloc(32, 7)); db.close()
  for (let i = 1; i <= N; i++) await signImport(chain, f, key)
  chain.close(); rmSync(f)
  process.exit(0)
}
// Warm the threads (start-up is the same for every N).
const { source, root, chain, pool, first } = await workChain(src, 'catchup-work-')
for (let i = 0; i < 4; i++) await discardLoaded(await loadBlock(chain, first, readSeal(first), { loadPool: pool }))

// The blocks' bytes in memory before the measured part (the receive has them from the stream).
const bytesOf = new Map()
for (const b of source.index.range(1, N)) bytesOf.set(b.hash, { bytes: readFileSync(source.pathOf(b)), seal: b.seal })
const net = {
  headers: async (_p, from, count) => source.index.range(from, Math.min(from + count - 1, N)).map(headerOf),
  report: () => {},
  servesRanges: () => true,
  // A run's last block may go alone (a range of one is a single request).
  fetchBlock: async (_p, hash, dest) => {
    const { bytes, seal } = bytesOf.get(hash)
    writeNew(dest, bytes)
    return { seal, size: bytes.byteLength, head: new Uint8Array(bytes.subarray(0, 4096)) }
  },
  fetchBlocks: async (_p, items, o) => {
    for (const [k, item] of items.entries()) {
      await new Promise(r => setImmediate(r))
      const { bytes, seal } = bytesOf.get(item.hash)
      writeNew(item.dest, bytes, item.made)
      // The first bytes in a buffer of their own, as the range receive hands them (FetchedBlock's head).
      o.onBlock(k, { seal, size: bytes.byteLength, head: new Uint8Array(bytes.subarray(0, 4096)) })
    }
  }
}
const feed = new HeaderFeed(chain, net, 'A', { height: 0, hash: chain.chainId }, N)
let imported = 0
const prof = process.env.PROF
let session
if (prof) {
  const { Session } = await import('node:inspector')
  session = new Session(); session.connect()
  const post = (m, p) => new Promise((res, rej) => session.post(m, p, (e, r) => e ? rej(e) : res(r)))
  await post('Profiler.enable'); await post('Profiler.setSamplingInterval', { interval: 100 }); await post('Profiler.start')
  session.stop = async () => { const { profile } = await post('Profiler.stop'); writeFileSync(prof, JSON.stringify(profile)) }
}
const churn = Number(process.env.CHURN ?? 0)
if (churn > 0) {
  const d = join(root, 'churn'); mkdirSync(d)
  for (let i = 0; i < churn; i++) closeSync(openSync(join(d, String(i)), 'w'))
  for (let i = 0; i < churn; i++) unlinkSync(join(d, String(i)))
}
// Child processes' CPU, reaped (ticks: /proc's stat cutime + cstime): the syncfs helper's `sync -f` runs, before session 39.
const childTicks = () => {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(f[13]) + Number(f[14])
}
// The main thread's CPU (ns, schedstat) and its kernel part (clock ticks, /proc's stat).
const mainCpu = () => {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { ns: Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]), sysTicks: Number(f[12]), userTicks: Number(f[11]) }
}
// THREADS=1: every thread's CPU a block, by name (libuv's pool, the load threads, V8's), split user/kernel.
const threads = () => {
  const out = new Map()
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() + (tid === String(process.pid) ? ' (main)' : '')
      out.set(tid, { name, ns: Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]), user: Number(f[11]), sys: Number(f[12]) })
    } catch {}
  }
  return out
}
const th0 = process.env.THREADS === '1' ? threads() : undefined
const m0 = mainCpu()
const k0 = childTicks()
const t0 = performance.now(); const c0 = process.cpuUsage()
const scheduler = new DownloadScheduler({ network: net, importer: chainImporter(chain, pool), candidates: () => ['A'], onImported: () => { imported++ }, logger: nullLogger }, DEFAULT_SYNC_OPTIONS, feed)
await scheduler.run(new AbortController().signal)
const c1 = process.cpuUsage(c0)
const m1 = mainCpu()
// The helper shell ends when its stdin closes: stop it first, so that its runs are reaped and counted.
await stopSyncfsHelper().catch(() => {})
const k1 = childTicks()
if (session) await session.stop()
if (th0 !== undefined) {
  const by = new Map()
  for (const [tid, t] of threads()) {
    const b = th0.get(tid) ?? { ns: 0, user: 0, sys: 0 }
    const key = process.env.THREADS_BY === 'tid' ? `${t.name} ${tid}` : t.name
    const a = by.get(key) ?? { ns: 0, user: 0, sys: 0, n: 0 }
    a.ns += t.ns - b.ns; a.user += t.user - b.user; a.sys += t.sys - b.sys; a.n++
    by.set(key, a)
  }
  for (const [name, a] of by) if (a.ns > 0) process.stderr.write(`thread ${name} ×${a.n}: ${(a.ns / 1e6 / imported).toFixed(3)} ms a block (user ${(a.user * 10 / imported).toFixed(3)}, kernel ${(a.sys * 10 / imported).toFixed(3)})\n`)
}
process.stderr.write(`imported ${imported} in ${(performance.now() - t0).toFixed(0)} ms, cpu ${((c1.user + c1.system) / 1000 / imported).toFixed(3)} ms/block, main ${((m1.ns - m0.ns) / 1e6 / imported).toFixed(3)} (in the kernel ${((m1.sysTicks - m0.sysTicks) * 10 / imported).toFixed(3)}, user ${((m1.userTicks - m0.userTicks) * 10 / imported).toFixed(3)}), child processes ${((k1 - k0) * 10 / imported).toFixed(3)}\n`)
await pool.close(); chain.close(); source.close()
// Not removed inside the measured process (unlinking N files would count as per-block work).
process.stderr.write(`data directory left in ${root}\n`)
