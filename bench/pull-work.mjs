// The 1 MB pull's per-block work with the real libp2p stack, on the built dist/ (`npm run build`),
// in two processes as `pull` runs them: a serving node and a pulling node (the pull's sync phase:
// range requests, receive, load threads' checks, placement; no final verify). For the per-block
// budget by thread (docs/performance/pull.md, "Session 11: the 1 MB pull"):
//   node bench/pull-work.mjs build SRC N     # once per N: a chain of N blocks of 1,000 rows × 1,000 random bytes
//   node bench/pull-work.mjs serve SRC       # prints its address, serves until SIGTERM (then its CPU by thread)
//   valgrind --tool=callgrind --separate-threads=yes node bench/pull-work.mjs pull ADDR SRC
// Run the pull against a short chain and a long one and subtract, thread by thread (start-up, the
// dial and the load threads' warm-up cancel: the pool is warmed before the sync starts); the same
// with the server under valgrind. The pulling process prints its CPU by thread, user and system,
// from /proc (kernel time is invisible to valgrind). Switches of `pull`: RAW=1 reads the same files
// as one raw libp2p stream from the same server instead of syncing (the reference, in the same
// process and heap); MEM=1 samples external and ArrayBuffer memory; SNAPSHOT=FILE writes a heap
// snapshot half-way; TIMELINE=1 prints the tip and the memory every 250 ms (to set against
// --trace-gc's times); SYNC_OPTIONS='{"perPeer":1}' overrides sync options. The pull reports when
// the range writes went through the pool (range-writes.ts). PETAL_DIST=DIR runs another build's
// dist/ (old/new pairs). Switch of `serve`: SERVE_TIMELINE=1 prints its socket and stream write
// buffers and its memory every 250 ms. An instrumented copy of dist/ may count into
// globalThis.__reads (serving) or __writes (pulling): both sides print them at the end.
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import { multiaddr } from '@multiformats/multiaddr'

const dist = process.env.PETAL_DIST || new URL('../dist', import.meta.url).pathname
await import(`${dist}/polyfills.js`)
const { Chain, createChain, installGenesis, signImport, loadBlock, discardLoaded } = await import(`${dist}/chain/index.js`)
const { DataDir, DEFAULT_CONSENSUS, readSeal } = await import(`${dist}/storage/index.js`)
const { generateSigningKey } = await import(`${dist}/crypto/index.js`)
const { PetalNode } = await import(`${dist}/node/index.js`)
// The native addons are found at ../../dist/native from the modules (crypto/sha256-native.ts): a
// copy of dist/ in a directory not itself named dist (PETAL_DIST=.exp/old) loads neither, and its
// load threads hash the manifest in WebAssembly (2.5 against 0.8 ms a 1 MB block) and verify with
// node:crypto, silently (docs/performance/pull.md, "Session 27: the 1 MB pull"). Refused here.
// CHECK_HASHER=0 skips the check (a serving process under valgrind, whose CPU shows no SHA instructions: it hashes nothing per block).
if (existsSync(`${dist}/native/petal-sha256.node`) && process.env.PETAL_NATIVE_SHA256 !== '0' && process.env.CHECK_HASHER !== '0') {
  const { merkleHasher } = await import(`${dist}/crypto/sha256-native.js`)
  const { hasher, why } = merkleHasher()
  if (hasher !== 'native') {
    process.stderr.write(`pull-work: ${dist} has its native addons, but its modules do not load them (${why}): copy the build to a directory named dist (PETAL_DIST=DIR/dist), or set PETAL_NATIVE_SHA256=0 to measure without them\n`)
    process.exit(2)
  }
}

const RAW = '/petal-bench/raw/1.0.0'

/**
 * The stream's next 'drain' (or its close). Not `stream.onDrain()`: @libp2p/utils 7.4 keeps the
 * promise of the first drain, so every later call resolves at once, and a loop of synchronous reads
 * that awaits it never yields to the event loop again: the whole chain went into the stream's write
 * buffer (1,056,636,928 unsent bytes at its close) while the connection stood still, until the
 * puller's connection monitor cut it (docs/performance/pull.md, "Session 31: the 1 MB pull").
 */
function drainOf (stream) {
  return new Promise((resolve, reject) => {
    const done = () => { stream.removeEventListener('drain', done); stream.removeEventListener('close', closed); resolve() }
    const closed = evt => { done(); reject(evt.error ?? new Error('stream closed')) }
    stream.addEventListener('drain', done)
    stream.addEventListener('close', closed)
  })
}

const [mode, a, b] = process.argv.slice(2)

/** CPU (ms) of every thread of this process, user and system, by thread id. */
function threads () {
  const out = new Map()
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const s = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1')
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
      out.set(tid, { name: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), user: Number(f[11]) * 10, sys: Number(f[12]) * 10, minflt: Number(f[7]) })
    } catch {}
  }
  return out
}

if (mode === 'build') {
  const n = Number(b)
  const key = generateSigningKey()
  const chain = await createChain(a, { creator: 'bench', description: 'big', bootstrapPeers: [], consensus: DEFAULT_CONSENSUS }, key)
  const f = join(tmpdir(), `pull-work-src-${process.pid}.db`)
  const db = new Database(f)
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)')
  const ins = db.prepare('INSERT INTO t (b) VALUES (?)')
  db.transaction(() => { for (let i = 0; i < 1000; i++) ins.run(randomBytes(1000)) })()
  db.close()
  for (let i = 1; i <= n; i++) await signImport(chain, f, key)
  chain.close(); rmSync(f)
  process.exit(0)
} else if (mode === 'serve') {
  // SERVE_TIMELINE=1: every 250 ms, what the serving process holds of what it sends (to set against
  // --trace-gc's times): Node's socket buffers (writableLength of every TCP socket that wrote corked),
  // the yamux streams' write buffers (plaintext not yet framed), and ArrayBuffer memory (MB).
  const sockets = new Set()
  if (process.env.SERVE_TIMELINE === '1') {
    const { Socket } = await import('node:net')
    const cork = Socket.prototype.cork
    Socket.prototype.cork = function () { sockets.add(this); return cork.call(this) }
  }
  // No query mirror: a serving node builds one over a chain it has not mirrored yet (1 GB of rows
  // written on one of its threads while the first pull of a new chain ran: session 42).
  const node = await PetalNode.create({ dir: a, stateFile: false, queryMirror: false, network: { listen: ['/ip4/127.0.0.1/tcp/0'], discovery: false } })
  await node.start()
  if (process.env.SERVE_TIMELINE === '1') {
    const t0 = performance.now()
    setInterval(() => {
      let socketBytes = 0
      for (const s of sockets) socketBytes += s.writableLength
      let streamBytes = 0; let streams = 0
      for (const c of node.network.libp2p.getConnections()) for (const s of c.streams) { streamBytes += s.writeBufferLength ?? 0; streams++ }
      const u = process.memoryUsage()
      if (socketBytes + streamBytes > 0 || streams > 0) process.stderr.write(`serve timeline ${(performance.now() - t0).toFixed(0)} ms: sockets ${(socketBytes / 1048576).toFixed(2)}, streams ${streams} holding ${(streamBytes / 1048576).toFixed(2)}, arrayBuffers ${(u.arrayBuffers / 1048576).toFixed(1)}, external ${(u.external / 1048576).toFixed(1)}, heapUsed ${(u.heapUsed / 1048576).toFixed(1)}\n`)
    }, 250).unref()
  }
  // The reference: every canonical block file as one raw byte stream (as bench/network-worker.ts serves it).
  const src = Chain.open(a)
  const files = src.index.range(1, src.tip().height).map(r => src.pathOf(r))
  src.close()
  await node.network.libp2p.handle(RAW, async stream => {
    const buf = Buffer.allocUnsafe(64 * 1024)
    for (const f of files) {
      const fd = openSync(f, 'r')
      try {
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, null)
          if (n === 0) break
          if (!stream.send(Buffer.from(buf.subarray(0, n)))) await drainOf(stream)
        }
      } finally { closeSync(fd) }
    }
    await stream.close()
  }, { maxInboundStreams: 2 })
  process.stdout.write(`${node.listenAddrs()[0]}\n`)
  // At the end, the CPU of each thread since start, user + system (subtract a short run's from a long one's).
  process.on('SIGTERM', () => {
    for (const [tid, t] of threads()) if (t.user + t.sys > 0) process.stderr.write(`serve ${tid === String(process.pid) ? 'main' : tid}: ${t.user} + ${t.sys} ms\n`)
    if (globalThis.__reads !== undefined) process.stderr.write(`serve reads: ${JSON.stringify(globalThis.__reads)}\n`)
    if (process.env.SERVE_TIMELINE === '1') process.stderr.write(`serve sockets seen: ${sockets.size}\n`)
    node.stop().then(() => process.exit(0))
  })
} else if (mode === 'pull') {
  // The pulling side: genesis copied from the source directory (the pull's chainparams step), a
  // node syncing from ADDR until it holds the source's tip, stopped.
  const source = Chain.open(b)
  const target = source.tip().height
  const root = mkdtempSync(join(tmpdir(), 'pull-work-'))
  const g = join(root, 'genesis.db')
  copyFileSync(source.dir.blockPath(0), g)
  copyFileSync(source.dir.blockPath(0).replace(/\.db$/, '.sig'), g.replace(/\.db$/, '.sig'))
  const chain = await installGenesis(new DataDir(join(root, 'data')), source.params, g)
  const node = await PetalNode.create({ dir: chain.dir.root, chain, network: { listen: [], announce: [], bootstrap: [a], discovery: false }, sync: { statusIntervalMs: 1000, ...JSON.parse(process.env.SYNC_OPTIONS ?? '{}') }, queryMirror: false, ingest: false })
  // Warm the sync's load threads (start-up is the same for every N; blocks checked on the main
  // thread while they come up would differ from run to run).
  const pool = node.sync.loadPool
  const first = source.dir.blockPath(1)
  for (let i = 0; i < 2; i++) await discardLoaded(await loadBlock(chain, first, readSeal(first), { loadPool: pool }))
  while (!pool.ready) await new Promise(r => setTimeout(r, 10))
  for (let i = 0; i < 4; i++) await discardLoaded(await loadBlock(chain, first, readSeal(first), { loadPool: pool }))
  source.close()
  // RAW=1: the reference instead of the sync, in this same process (same heap, same libp2p node):
  // the same files as one raw stream from the same server.
  const raw = process.env.RAW === '1'
  if (raw) await node.network.libp2p.start()
  // MEM=1: external and ArrayBuffer memory of this process, sampled every 10 ms (what drives V8's full collections).
  const mem = []
  const memTimer = process.env.MEM === '1' ? setInterval(() => { const u = process.memoryUsage(); mem.push([u.external, u.arrayBuffers, u.heapUsed]) }, 10) : undefined
  // When the range receive's writes went through the pool (range-writes.ts: a synchronous write stalled).
  const { rangeWrites } = await import(`${dist}/network/protocols/range-writes.js`)
  const pooledAt = []
  const poolTimer = setInterval(() => { if (rangeWrites.pooled && (pooledAt.length === 0 || pooledAt.at(-1)[1] !== rangeWrites.slowWriteMs)) pooledAt.push([Math.round(performance.now() - t0), rangeWrites.slowWriteMs]) }, 10)
  const t0 = performance.now(); const th0 = threads()
  if (raw) {
    // The dial and the protocol's negotiation under a signal of our own: without one, libp2p gives
    // the negotiation 10 s (PROTOCOL_NEGOTIATION_TIMEOUT), which a loaded machine overran (session
    // 29's RAW=1 runs at load 18-22 ended in an uncaught TimeoutError). A failure says where it was.
    const dial = new AbortController()
    let bytes = 0
    let stage = 'dial'
    try {
      const stream = await node.network.libp2p.dialProtocol(multiaddr(a), RAW, { signal: dial.signal })
      stage = `stream, after ${(performance.now() - t0).toFixed(0)} ms`
      for await (const chunk of stream) bytes += chunk.byteLength
    } catch (err) {
      process.stderr.write(`raw: failed in the ${stage} after ${bytes} bytes, ${(performance.now() - t0).toFixed(0)} ms: ${err?.stack ?? err}\n`)
      process.exit(1)
    }
    process.stderr.write(`raw: ${bytes} bytes\n`)
  } else {
    // As `pull()` syncs: V8's old generation may grow to 4x its live size (node/pull-heap.ts).
    // Without it this harness fell into session 15's full-collection mode in some runs and not in
    // others (24 against 3 full collections, V8's helper threads' CPU doubled; session 21).
    const { withPullHeap } = await import(`${dist}/node/pull-heap.js`)
    await withPullHeap(async () => { await syncAll() })
  }
  async function syncAll () {
    await node.start()
    // SNAPSHOT=FILE: a heap snapshot of this process half-way through the sync (what holds its buffers).
    let snap = process.env.SNAPSHOT
    // TIMELINE=1: every 250 ms, the time since the process started (as --trace-gc counts), the tip, external and ArrayBuffer memory (MB).
    let nextLine = 0
    while (chain.tip().height < target) {
      await new Promise(r => setTimeout(r, 20))
      if (process.env.TIMELINE === '1' && performance.now() >= nextLine) {
        nextLine = performance.now() + 250
        const u = process.memoryUsage()
        process.stderr.write(`timeline ${performance.now().toFixed(0)} ms: height ${chain.tip().height}, external ${(u.external / 1048576).toFixed(1)}, arrayBuffers ${(u.arrayBuffers / 1048576).toFixed(1)}, heapUsed ${(u.heapUsed / 1048576).toFixed(1)}\n`)
      }
      if (snap !== undefined && chain.tip().height >= target / 2) {
        const { writeHeapSnapshot } = await import('node:v8')
        writeHeapSnapshot(snap)
        snap = undefined
      }
    }
  }
  const ms = performance.now() - t0
  const th1 = threads()
  if (globalThis.__writes !== undefined) process.stderr.write(`pull writes: ${JSON.stringify(globalThis.__writes)}\n`)
  // Socket reads of the pulling node's dialled connections (pooled-reads.ts; builds before session 30 have none).
  if (existsSync(`${dist}/network/pooled-reads.js`)) {
    const { pooledReadStats } = await import(`${dist}/network/pooled-reads.js`)
    const r = pooledReadStats()
    process.stderr.write(`pooled socket reads: ${r.reads} on ${r.sockets} sockets, ${(r.reads / target).toFixed(1)} a block${r.large === undefined ? '' : `; ${r.large} large pools taken, ${r.held} bytes held at the end`}\n`)
  }
  clearInterval(poolTimer)
  if (pooledAt.length > 0) process.stderr.write(`range writes paused to the pool at (ms since start, stalled ms): ${pooledAt.map(([t, w]) => `${t} (${w?.toFixed(1)})`).join(', ')}\n`)
  if (memTimer !== undefined) {
    clearInterval(memTimer)
    const MB = x => (x / 1048576).toFixed(1)
    const q = (i, p) => { const v = mem.map(m => m[i]).sort((x, y) => x - y); return MB(v[Math.floor(p * (v.length - 1))]) }
    process.stderr.write(`memory (MB, p10/p50/p90/max): external ${q(0, 0.1)}/${q(0, 0.5)}/${q(0, 0.9)}/${q(0, 1)}, arrayBuffers ${q(1, 0.1)}/${q(1, 0.5)}/${q(1, 0.9)}/${q(1, 1)}, heap ${q(2, 0.5)}\n`)
  }
  await node.stop()
  process.stderr.write(`${raw ? 'raw stream of' : 'pulled'} ${target} blocks in ${ms.toFixed(0)} ms; CPU ms per block by thread, user + system (thread ids in start order: main, V8's helpers, libuv's pool, the load threads):\n`)
  let all = 0
  for (const [tid, t] of th1) {
    const o = th0.get(tid) ?? { user: 0, sys: 0 }
    const user = t.user - o.user; const sys = t.sys - o.sys
    all += user + sys
    if (user + sys > 0) process.stderr.write(`  ${tid === String(process.pid) ? 'main' : tid} (${t.name}): ${(user / target).toFixed(2)} + ${(sys / target).toFixed(2)}, ${((t.minflt - (o.minflt ?? 0)) / target).toFixed(0)} minor faults\n`)
  }
  process.stderr.write(`  all: ${(all / target).toFixed(2)}\n`)
  chain.close()
  rmSync(root, { recursive: true, force: true })
  process.exit(0)
} else {
  process.stderr.write('usage: pull-work.mjs build SRC N | serve SRC | pull ADDR SRC\n')
  process.exit(2)
}
