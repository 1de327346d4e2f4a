// Counters in the pulling process of the network bench's pull (docs/performance/pull.md, "Session 50"):
//   PETAL_BENCH_FLAGS="--import $PWD/bench/pull-counts.mjs" PETAL_BENCH_FLAGS_FOR=1 PETAL_BENCH_ONLY=pull node --import tsx bench/run.ts network
// prints, when a download of 100 blocks or more ends: the group gate's holds and their time, the
// placements, the window sampled every 5 ms, the main thread's CPU (schedstat: exact, not sampled)
// inside the synchronous calls of the receive's SHA-256, the range writes, the scheduler's dispatch,
// and V8's collections. It reads private fields (GroupGate.heldSince, DownloadScheduler.slots...):
// a rename there silences a line. PIPE_MODE puts earlier rules back in the same tree, to alternate
// old and new in one build: a = before 1e0ee0d (a group being placed counts in the window's bytes;
// no full-window rule in the gate), b = 1e0ee0d (no full-window rule), c = as built, h = as built but
// the receive hashes every range block, as before session 51 (no `hashLater`: docs/performance/pull.md,
// "Session 51: the download's SHA-256 on the load thread (pull51)"); s = as built but small blocks
// (up to 128 KiB) are left unhashed by the receive too, their hash taken by the load thread's checks;
// r = as built but a small block's head cut to its first 4,096 bytes, so the load thread reads its file
// again, as before session 53 (docs/performance/catchup.md, "Session 53: the load thread's reading again of a small block (catchup53)");
// m = as built but every load thread starts at the first load, as before session 53 (a pull of large
// blocks started one: docs/performance/pull.md, "Session 53: one load thread for large blocks (pull53)").
// PIPE_MARK=FILE: the pulling process writes its pid there when a download starts (for `perf record -p`, pull52).
// PIPE_HEAP=FILE: a sampling heap profile of the main thread during the download (objects collected by
// scavenges kept), its allocation sites by bytes written to FILE (pull53).
import { openSync, readSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { PerformanceObserver } from 'node:perf_hooks'
const ROOT = process.env.PIPE_ROOT ?? new URL('..', import.meta.url).pathname.replace(/\/$/, '')
const MODE = process.env.PIPE_MODE ?? 'c'
const { DownloadScheduler } = await import(ROOT + '/src/sync/download.ts')
const { GroupGate } = await import(ROOT + '/src/sync/group-gate.ts')
const { RangeWrites } = await import(ROOT + '/src/network/protocols/range-writes.ts')
const { CheckAhead } = await import(ROOT + '/src/sync/check-ahead.ts')
const { threadCpu } = await import(ROOT + '/bench/thread-cpu.ts')
if (MODE === 'r') {
  const { Slot } = await import(ROOT + '/src/sync/slot.ts')
  const succeeded = Slot.prototype.succeeded
  Slot.prototype.succeeded = function (peer, seal, size, head, hashed) { return succeeded.call(this, peer, seal, size, head !== undefined && head.length > 4096 ? head.slice(0, 4096) : head, hashed) }
}
const { LoadPool } = await import(ROOT + '/src/chain/load-pool.ts')
// CPU of this thread in ns (schedstat: exact time on a CPU).
const fd = openSync('/proc/thread-self/schedstat', 'r'); const buf = Buffer.alloc(64)
const cpu = () => { const n = readSync(fd, buf, 0, 64, 0); let v = 0; for (let i = 0; i < n; i++) { const c = buf[i]; if (c < 48 || c > 57) break; v = v * 10 + c - 48 } return v }
// Threads alive when this preload runs: the main thread and V8's platform workers (on Node 20 every thread is named "node").
const startupTids = new Set(threadCpu().keys())
const buckets = {}; const calls = {}
const add = (k, ns) => { buckets[k] = (buckets[k] ?? 0) + ns; calls[k] = (calls[k] ?? 0) + 1 }
let active = false
function wrapSync (proto, name, bucket) {
  const orig = proto[name]
  proto[name] = function (...a) { if (!active) return orig.apply(this, a); const t = cpu(); try { return orig.apply(this, a) } finally { add(bucket, cpu() - t) } }
}
const HP = Object.getPrototypeOf(createHash('sha256'))
wrapSync(HP, 'update', 'hash'); wrapSync(HP, 'digest', 'hash')
wrapSync(RangeWrites.prototype, 'write', 'write (sync part)')
wrapSync(RangeWrites.prototype, 'open', 'open (sync part)')
wrapSync(CheckAhead.prototype, 'start', 'checks dispatch (sync part)')
wrapSync(DownloadScheduler.prototype, 'dispatch', 'scheduler dispatch')
wrapSync(DownloadScheduler.prototype, 'importRun', 'placement (first sync part)')
// GC on the main thread, by count and duration (wall, the collector's pauses).
let gcMs = 0, gcN = 0; const gcKinds = {}
new PerformanceObserver(l => { if (!active) return; for (const e of l.getEntries()) { gcMs += e.duration; gcN++; const k = e.detail?.kind ?? e.kind; const g = gcKinds[k] ??= [0, 0]; g[0]++; g[1] += e.duration } }).observe({ entryTypes: ['gc'] })
// The gate: holds and their time.
let holds = 0, heldMs = 0, timedOut = 0, heldFull = 0, fullCalls = 0
const due = GroupGate.prototype.due
GroupGate.prototype.due = function (slots, checks, full) {
  if (full) fullCalls++
  const before = this.heldSince
  const r = due.call(this, slots, checks, MODE === 'c' || MODE === 'h' || MODE === 'm' || MODE === 's' || MODE === 'r' ? full : false)
  const now = performance.now()
  if (before === undefined && this.heldSince !== undefined) { holds++; if (full) heldFull++ }
  if (before !== undefined && r) { heldMs += now - before; if (now - before >= this.holdMs) timedOut++ }
  return r
}
// Loads checked on the calling thread, no load thread being up yet; load threads started.
let coldLoads = 0, pool
const poolLoad = LoadPool.prototype.load
LoadPool.prototype.load = function (...a) { if (MODE === 'm') this.start(this.size); if (active) { pool = this; if (!this.warm) coldLoads++ } return poolLoad.apply(this, a) }
if (MODE === 'a') {
  DownloadScheduler.prototype.hasRoom = function () { return this.slots.length < this.options.window && (this.slots.length === 0 || this.windowBytes < (this.options.windowBytes ?? Infinity)) }
}
const places = []; let ranges = 0, rangeBlocks = 0
const origRun = DownloadScheduler.prototype.importRun
DownloadScheduler.prototype.importRun = async function (signal) { const s = performance.now(); const n0 = this.slots.length; try { return await origRun.call(this, signal) } finally { places.push([s, performance.now() - s, n0 - this.slots.length]) } }
const origRR = DownloadScheduler.prototype.requestRange
DownloadScheduler.prototype.requestRange = function (run, peer, now) { ranges++; rangeBlocks += run.length; return origRR.call(this, run, peer, now) }
const heapFile = process.env.PIPE_HEAP
const { Session } = heapFile === undefined ? {} : await import('node:inspector')
const heap = Session === undefined ? undefined : new Session()
if (heap !== undefined) { heap.connect(); heap.post('HeapProfiler.enable') }
function heapSites () {
  heap.post('HeapProfiler.stopSampling', (err, r) => {
    if (err) { process.stderr.write(`[pull-counts] heap: ${err.message}\n`); return }
    const sites = new Map(); let total = 0
    const walk = (n, stack) => {
      const f = n.callFrame; const here = `${f.functionName || '(anon)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/src\//, 'src/')}:${f.lineNumber + 1}`
      const self = n.selfSize; total += self
      if (self > 0) { const k = `${here}  <  ${stack.slice(-3).reverse().join('  <  ')}`; sites.set(k, (sites.get(k) ?? 0) + self) }
      for (const c of n.children) walk(c, [...stack, here])
    }
    walk(r.profile.head, [])
    const lines = [...sites].sort((a, b) => b[1] - a[1]).slice(0, 60).map(([k, v]) => `${(v / 1024 / blocks).toFixed(1).padStart(8)} KiB a block  ${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`)
    writeFileSync(heapFile, `sampled ${(total / 1024 / blocks).toFixed(1)} KiB a block on the main thread's heap over ${blocks} blocks\n` + lines.join('\n') + '\n')
  })
}
let heapOn = false
let cur, t0 = 0, c0 = 0, blocks = 0, threads0
const origMain = DownloadScheduler.prototype.run
DownloadScheduler.prototype.run = async function (signal) { if (MODE === 'h') this.components = { ...this.components, importer: { ...this.components.importer, hashLater: undefined } }; if (MODE === 's') { const later = this.components.importer.hashLater; if (later !== undefined) this.components = { ...this.components, importer: { ...this.components.importer, hashLater: size => later(size) || size <= 128 * 1024 } } } cur = this; active = true; process.stderr.write(`[pull-counts ${MODE}] download starts\n`); if (process.env.PIPE_MARK !== undefined) writeFileSync(process.env.PIPE_MARK, String(process.pid)); if (heap !== undefined && !heapOn && (heapOn = true)) heap.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }); threads0 = threadCpu(); t0 = performance.now(); c0 = cpu(); try { const n = await origMain.call(this, signal); blocks += n; return n } finally { active = false; report() } }
const samples = []
const iv = setInterval(() => { if (cur === undefined || cur.slots.length === 0) return; const k = { fetching: 0, fetched: 0, waiting: 0, importing: 0 }; for (const s of cur.slots) k[s.state.kind]++; samples.push({ n: cur.slots.length, ...k, placing: cur.placing !== undefined, inflight: cur.inflight.size }) }, 5)
iv.unref()
function report () {
  if (blocks < 100) return
  const mainNs = cpu() - c0
  const byName = new Map()
  for (const [tid, t] of threadCpu()) byName.set(t.name, (byName.get(t.name) ?? 0) + t.ns - (threads0.get(tid)?.ns ?? 0))
  const w = s => process.stderr.write(`[pull-counts ${MODE}] ${s}\n`)
  const n = samples.length; const c = f => (100 * samples.filter(f).length / n).toFixed(0) + '%'
  const sum = places.reduce((a, p) => a + p[1], 0)
  w(`${blocks} blocks in ${((performance.now() - t0) / 1000).toFixed(1)} s; placements ${places.length} (mean group ${(blocks / places.length).toFixed(1)}, ${sum.toFixed(0)} ms placing); ranges ${ranges} (mean ${(rangeBlocks / ranges).toFixed(1)} blocks)`)
  w(`load pool: ${pool?.started ?? pool?.threads?.length} threads started, ${coldLoads} blocks checked on the main thread before one was up`)
  w(`gate: ${holds} holds (${heldFull} begun with the window full), ${heldMs.toFixed(0)} ms held in all (${(heldMs / Math.max(1, holds)).toFixed(1)} ms each), ${timedOut} ended by the 50 ms; due() saw a full window ${fullCalls} times`)
  w(`${n} samples: no transfer in flight ${c(s => s.inflight === 0)}, placing ${c(s => s.placing)}, no transfer while placing ${c(s => s.inflight === 0 && s.placing)}, no transfer and not placing ${c(s => s.inflight === 0 && !s.placing)}`)
  const parts = Object.entries(buckets).map(([k, v]) => `${k} ${(v / 1e6 / blocks).toFixed(3)} (${(calls[k] / blocks).toFixed(1)} calls)`).join(', ')
  w(`threads during the download, ms of CPU a block: ${[...byName].filter(([, ns]) => ns > 0).map(([k, ns]) => `${k} ${(ns / 1e6 / blocks).toFixed(2)}`).join(', ')}`)
  const group = { 'alive at start-up (V8 platform, tsx loader)': 0, 'made before the download (libuv pool, other workers)': 0, 'made during it (the load pool)': 0 }
  for (const [tid, t] of threadCpu()) { if (tid === String(process.pid)) continue; const ns = t.ns - (threads0.get(tid)?.ns ?? 0); group[startupTids.has(tid) ? 'alive at start-up (V8 platform, tsx loader)' : threads0.has(tid) ? 'made before the download (libuv pool, other workers)' : 'made during it (the load pool)'] += ns }
  w(`other threads by origin, ms of CPU a block: ${Object.entries(group).map(([k, ns]) => `${k} ${(ns / 1e6 / blocks).toFixed(2)}`).join(', ')}`)
  w(`by thread (name#tid, ≥ 0.05 ms a block): ${[...threadCpu()].map(([tid, t]) => [`${t.name}#${tid}`, (t.ns - (threads0.get(tid)?.ns ?? 0)) / 1e6 / blocks]).filter(x => x[1] >= 0.05).map(x => `${x[0]} ${x[1].toFixed(2)}`).join(', ')}`)
  w(`main thread during the download: ${(mainNs / 1e6 / blocks).toFixed(2)} ms of CPU a block; counted: ${parts}; GC pauses ${(gcMs / blocks).toFixed(3)} ms a block (${(gcN / blocks).toFixed(2)} a block; by kind: ${Object.entries(gcKinds).map(([k, g]) => `${k}: ${g[0]} for ${g[1].toFixed(0)} ms`).join(', ')})`)
  if (heap !== undefined) heapSites()
}
