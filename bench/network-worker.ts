// A process of the network benchmark (bench/network.bench.ts), driven over IPC: serves a chain,
// pulls one, reads a raw libp2p stream, or runs a node of the propagation test.
import '../src/polyfills.js'
import { readdirSync, readFileSync, statSync, openSync, readSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import type { Connection, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { Chain, importBlock, signImport } from '../src/chain/index.js'
import { importPrivateKey } from '../src/crypto/index.js'
import { PetalNode, pull } from '../src/node/index.js'
import { LIMITS, type WireHeader } from '../src/network/index.js'
import { rangeWrites } from '../src/network/protocols/range-writes.js'
import { measureSyncFloor } from './sync-floor.js'
import { bundleLoadWorker, bundleWorkerEntries } from './worker-bundles.js'

bundleWorkerEntries()
bundleLoadWorker()

// PETAL_BENCH_RANGE=N: ranges of up to N blocks, asked for and served (every bench process sets it),
// beyond blocks/1.0.0's 32 only here: a request of more than 32 hashes is refused by any other node.
// The request frame grows with it (~67 bytes a hash). docs/performance/catchup.md, "Session 52: the
// load:sealed crash case, ranges of 32 and 64, the serving side's lookup (catchup52)".
const benchRange = Number(process.env.PETAL_BENCH_RANGE ?? LIMITS.maxRangeBlocks)
if (benchRange !== LIMITS.maxRangeBlocks) Object.assign(LIMITS as Record<string, number>, { maxRangeBlocks: benchRange, blocksRequest: Math.max(LIMITS.blocksRequest, benchRange * 128) })

export const RAW_PROTOCOL = '/petal-bench/raw/1.0.0'

type Msg = Record<string, unknown> & { cmd: string, id: number }
const send = (m: Record<string, unknown>): void => { process.send?.(m) }

let node: PetalNode | undefined
let sampler: NodeJS.Timeout | undefined
let peak = 0
let cpuStart: NodeJS.CpuUsage | undefined

const quiet = { stateFile: false as const }

/**
 * CPU time of each thread of this process (Linux /proc, clock ticks → ms), by kind: the main
 * thread, and the others (worker threads, libuv's pool, V8's helpers: Node 20 names none of them).
 */
function threadCpu (): Map<string, { kind: string, ms: number }> {
  const out = new Map<string, { kind: string, ms: number }>()
  let tids: string[]
  try { tids = readdirSync('/proc/self/task') } catch { return out }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1')
      const close = stat.lastIndexOf(')')
      const f = stat.slice(close + 2).split(' ')
      const ms = (Number(f[11]) + Number(f[12])) * 10
      const main = tid === String(process.pid)
      out.set(tid, { kind: main ? 'main' : 'other', ms })
      // The kernel time apart (part of `main`, of `other`): on this VM's root file system (ext4
      // without a journal) each new file's inode is found past the recently deleted ones, which
      // other processes' deletions make costly (docs/performance/catchup.md, "Session 31: catch-up"); a
      // catch-up creates a block's two new files on libuv's pool and a load thread ("Session 38:
      // catch-up"), so a run that pays that scan shows it in the other threads' kernel time.
      out.set(`${tid}:system`, { kind: main ? 'main in the kernel' : 'other in the kernel', ms: Number(f[12]) * 10 })
    } catch { /* the thread ended */ }
  }
  return out
}

/** CPU of each thread since `before` by kind; `seen`: the last figures of threads that have ended since (the load threads end with the sync). */
function threadCpuSince (before: Map<string, { kind: string, ms: number }>, seen: Map<string, { kind: string, ms: number }>): Record<string, number> {
  const by: Record<string, number> = {}
  for (const [tid, t] of new Map([...seen, ...threadCpu()])) by[t.kind] = (by[t.kind] ?? 0) + t.ms - (before.get(tid)?.ms ?? 0)
  return by
}

function canonicalFiles (dir: string): string[] {
  const out: string[] = []
  for (const shard of readdirSync(dir).filter(n => /^[0-9a-f]{4}$/.test(n)).sort()) {
    for (const f of readdirSync(join(dir, shard)).filter(n => n.endsWith('.db')).sort()) out.push(join(dir, shard, f))
  }
  return out
}

/**
 * Until the stream's next 'drain' (rejects if it closes first). Not `stream.onDrain()`, which
 * @libp2p/utils 7.4 resolves at once after the stream's first drain (it keeps that promise): the
 * loop below would then read every file into the stream's write buffer without yielding, and the
 * reference was not a stream (docs/performance/pull.md, "Session 31: the 1 MB pull").
 */
async function nextDrain (stream: Stream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const off = (): void => { stream.removeEventListener('drain', drained); stream.removeEventListener('close', closed) }
    const drained = (): void => { off(); resolve() }
    const closed = (evt: Event): void => { off(); reject((evt as Event & { error?: Error }).error ?? new Error('raw stream closed')) }
    stream.addEventListener('drain', drained)
    stream.addEventListener('close', closed)
  })
}

/** Stream every canonical block file of `dir`, in order, as one raw byte stream (the reference). */
function serveRaw (dir: string) {
  return async (stream: Stream, _c: Connection): Promise<void> => {
    const buf = Buffer.allocUnsafe(64 * 1024)
    for (const f of canonicalFiles(dir)) {
      const fd = openSync(f, 'r')
      try {
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, null)
          if (n === 0) break
          if (!stream.send(Buffer.from(buf.subarray(0, n)))) await nextDrain(stream)
        }
      } finally {
        closeSync(fd)
      }
    }
    await stream.close()
  }
}

function rss (): number {
  (globalThis as { gc?: () => void }).gc?.()
  return process.memoryUsage().rss
}

async function handle (m: Msg): Promise<Record<string, unknown>> {
  switch (m.cmd) {
    case 'serve': {
      node = await PetalNode.create({ dir: m.dir as string, ...quiet, network: { listen: ['/ip4/127.0.0.1/tcp/0'], discovery: false } })
      await node.start()
      await node.network.libp2p.handle(RAW_PROTOCOL, serveRaw(m.dir as string), { maxInboundStreams: 2 })
      return { addr: node.listenAddrs()[0] }
    }
    case 'rss': return { rss: rss(), heap: process.memoryUsage().heapUsed }
    case 'sample-start': {
      cpuStart = process.cpuUsage()
      peak = process.memoryUsage.rss()
      sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()) }, 50) // rss() alone: memoryUsage() also walks the heap, 20 times a second in the measured process
      return {}
    }
    case 'sample-stop': {
      clearInterval(sampler)
      const cpu = process.cpuUsage(cpuStart)
      return { peak, cpuMs: (cpu.user + cpu.system) / 1000 }
    }
    case 'raw': {
      const libp2p = (await import('libp2p')).createLibp2p
      const { tcp } = await import('@libp2p/tcp')
      const { noise } = await import('@libp2p/noise')
      const { yamux } = await import('@libp2p/yamux')
      // Generous negotiation timeouts: on a loaded machine the defaults fail the reference, not Petal.
      const client = await libp2p({ connectionManager: { outboundStreamProtocolNegotiationTimeout: 60_000 }, addresses: { listen: [] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: 4 * 1024 * 1024, maxReadBufferLength: 8 * 1024 * 1024 } })] })
      const started = performance.now()
      const cpu0 = process.cpuUsage()
      const stream = await client.dialProtocol(multiaddr(m.addr as string), RAW_PROTOCOL)
      let bytes = 0
      for await (const chunk of stream) bytes += chunk.byteLength
      const ms = performance.now() - started
      const cpu = process.cpuUsage(cpu0)
      await client.stop()
      return { ms, bytes, cpuMs: (cpu.user + cpu.system) / 1000 }
    }
    case 'pull': {
      let lastAt = 0
      let lastDone = 0
      let maxGap = 0
      let syncEnd = 0
      let p = process.memoryUsage.rss()
      let seen = new Map<string, { kind: string, ms: number }>()
      let ticks = 0
      // When the range writes went through the thread pool (range-writes.ts: a synchronous write
      // slept): pooled writes cost the pull more CPU, so a ratio says more with them counted.
      let pauses = 0
      let pooledTicks = 0
      let wasPooled = false
      const s = setInterval(() => {
        p = Math.max(p, process.memoryUsage.rss())
        if (++ticks % 4 === 0 && syncEnd === 0) seen = new Map([...seen, ...threadCpu()])
        const pooled = syncEnd === 0 && rangeWrites.pooled
        if (pooled && !wasPooled) pauses++
        if (pooled) pooledTicks++
        wasPooled = pooled
      }, 50)
      const started = performance.now()
      const cpu0 = process.cpuUsage()
      const threads0 = threadCpu()
      let syncCpu: NodeJS.CpuUsage | undefined
      let syncThreads: Record<string, number> | undefined
      const r = await pull({
        dir: m.dir as string,
        from: m.from as string,
        network: { discovery: false },
        sync: { statusIntervalMs: 1000 },
        onProgress: pr => {
          const now = performance.now()
          // Progress is polled every 100 ms: the longest time no block bytes arrived while syncing.
          if (pr.stage === 'sync' && pr.done > lastDone) {
            if (lastAt > 0) maxGap = Math.max(maxGap, now - lastAt)
            lastAt = now
            lastDone = pr.done
          }
          if (pr.stage === 'verify' && syncEnd === 0) { syncEnd = now; syncCpu = process.cpuUsage(cpu0); syncThreads = threadCpuSince(threads0, seen) }
        }
      })
      clearInterval(s)
      if (syncEnd === 0) throw new Error('pull never reported its verify stage: the sync phase cannot be timed')
      // CPU time of the whole process (all threads) in the sync phase: unlike the rate, it
      // hardly depends on how loaded the machine is.
      const cpuMs = syncCpu === undefined ? 0 : (syncCpu.user + syncCpu.system) / 1000
      return { totalMs: performance.now() - started, syncMs: syncEnd - started, bytes: r.verify.bytes, blocks: r.verify.blocks, maxGapMs: maxGap, peakRss: p, cpuMs, threadsMs: syncThreads, pauses, pooledMs: pooledTicks * 50 }
    }
    case 'prop-node': {
      node = await PetalNode.create({
        dir: m.dir as string,
        ...quiet,
        signingKey: typeof m.key === 'string' ? importPrivateKey(m.key) : undefined,
        network: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: m.bootstrap as string[] },
        events: { onImported: r => { send({ ev: 'imported', hash: r.block.hash, t: Date.now() }) } }
      })
      const sync = node.sync
      const orig = sync.announcement.bind(sync)
      sync.announcement = (h: WireHeader, from) => { send({ ev: 'announced', hash: h.hash, t: Date.now() }); orig(h, from) }
      await node.start()
      return { addr: node.listenAddrs()[0], peerId: node.peerId }
    }
    case 'import-local': {
      // Import blocks 1..n of chain `from` into `to` (genesis only) from local files: the cost of
      // validation and storage alone, without the network.
      const src = Chain.open(m.from as string)
      const dst = Chain.open(m.to as string)
      const n = Math.min(m.count as number, src.tip().height)
      let bytes = 0
      const started = performance.now()
      for (let h = 1; h <= n; h++) {
        const b = src.get(h) as NonNullable<ReturnType<Chain['get']>>
        await importBlock(dst, src.pathOf(b), b.seal, { expectedHash: b.hash })
        bytes += b.size
      }
      const ms = performance.now() - started
      src.close()
      dst.close()
      return { ms, bytes, blocks: n }
    }
    case 'floor': return { ...await measureSyncFloor(m.dir as string, m.work as string, m.count as number) }
    case 'mirror': {
      // Build the query mirror of a pulled chain from scratch: its time and this process's peak RSS.
      const { QueryMirror } = await import('../src/query/index.js')
      const chain = Chain.open(m.dir as string)
      const before = rss()
      let p = process.memoryUsage().rss
      const s = setInterval(() => { p = Math.max(p, process.memoryUsage().rss) }, 20)
      const started = performance.now()
      const mirror = QueryMirror.open(chain)
      const r = await mirror.sync()
      const ms = performance.now() - started
      clearInterval(s)
      p = Math.max(p, process.memoryUsage().rss)
      mirror.close()
      chain.close()
      return { ms, blocks: r.applied, before, peakRss: p }
    }
    case 'peers': return { peers: node?.network.connectedPeers().length ?? 0, subscribers: node?.network.subscribers().length ?? 0 }
    case 'publish': {
      const n = node as PetalNode
      const key = importPrivateKey(m.key as string)
      const r = await signImport(n.chain, m.file as string, key)
      const t0 = Date.now()
      await n.announceTip()
      return { hash: r.block.hash, t0, size: statSync(n.chain.pathOf(r.block)).size }
    }
    case 'stop': {
      await node?.stop()
      node = undefined
      setImmediate(() => process.exit(0))
      return {}
    }
    default: throw new Error(`unknown command ${m.cmd}`)
  }
}

process.on('message', (m: Msg) => {
  handle(m).then(r => { send({ id: m.id, ok: true, ...r }) }, (err: unknown) => { send({ id: m.id, ok: false, error: String((err as Error).stack ?? err) }) })
})
send({ ready: true })
