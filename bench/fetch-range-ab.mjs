// A range's transfer end to end in one process, both libp2p nodes (Petal's transport): the real
// `blocks` protocol (block.ts's handler: SendBatch, upload-links.ts) served to the real receive
// (fetchBlocks: the rate floor's reads, the hash, the block files written), rounds of RANGES ranges
// of 5 × 1 MB blocks of a chain, the files deleted after each round. Prints each round's CPU (all
// threads, user + system) a block; the first two rounds (warm-up, and the connection's first range
// in 256 KiB messages) are not counted. For old/new pairs run it with PETAL_DIST=…/dist alternated;
// for instructions, one run each way (docs/performance/pull.md, "Session 39: the 1 MB pull"):
//   CG=1 LONG_DIAL=1 FAST_LINK=1 valgrind --tool=callgrind --instr-atstart=no node bench/fetch-range-ab.mjs SRC 5 4
// CG=1 switches callgrind's instrumentation on for the counted rounds only.
//   node bench/fetch-range-ab.mjs SRC [ROUNDS] [RANGES]
import { mkdtempSync, rmSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { multiaddr } from '@multiformats/multiaddr'

const dist = process.env.PETAL_DIST || new URL('../dist', import.meta.url).pathname
await import(`${dist}/polyfills.js`)
const { Chain, installGenesis } = await import(`${dist}/chain/index.js`)
const { DataDir } = await import(`${dist}/storage/index.js`)
const { PetalNode } = await import(`${dist}/node/index.js`)
const { TIMEOUTS } = await import(`${dist}/network/constants.js`)
// LONG_DIAL=1 (under valgrind): the dial, the range's stream opening, each reply frame and the server's drain waits may take minutes.
if (process.env.LONG_DIAL === '1') { TIMEOUTS.dial = 600_000; TIMEOUTS.blockMeta = 600_000; TIMEOUTS.serverRequest = 600_000; TIMEOUTS.serverStall = 600_000 }
const [src, roundsArg, rangesArg] = process.argv.slice(2)
const rounds = Number(roundsArg ?? 12); const ranges = Number(rangesArg ?? 8)
const PER_RANGE = 5

const server = await PetalNode.create({ dir: src, stateFile: false, network: { listen: ['/ip4/127.0.0.1/tcp/0'], discovery: false } })
await server.start()
const source = Chain.open(src)
const hashes = source.index.range(1, Math.min(ranges * PER_RANGE, source.tip().height)).map(r => r.hash)
const root = mkdtempSync(join(tmpdir(), 'fetch-range-ab-'))
const { copyFileSync } = await import('node:fs')
copyFileSync(source.dir.blockPath(0), join(root, 'g.db')); copyFileSync(source.dir.blockPath(0).replace(/\.db$/, '.sig'), join(root, 'g.sig'))
const chain = await installGenesis(new DataDir(join(root, 'data')), source.params, join(root, 'g.db'))
source.close()
const puller = await PetalNode.create({ dir: chain.dir.root, chain, network: { listen: [], announce: [], bootstrap: [], discovery: false }, queryMirror: false, ingest: false })
await puller.network.libp2p.start()
const serverPeer = server.network.peerId
// FAST_LINK=1: every range after the first in 1 MiB messages, as on a fast link (under valgrind no
// range is delivered at LARGE_UPLOAD_MIN_RATE, so all would go in 256 KiB ones).
if (process.env.FAST_LINK === '1') {
  const { uploadLinks } = await import(`${dist}/network/protocols/upload-links.js`)
  uploadLinks.minRate = 0
}
for (let t = 0; ; t++) {
  try { await puller.network.libp2p.dial(multiaddr(server.listenAddrs()[0])); break } catch (err) { if (t >= 20) throw err; process.stderr.write(`dial: ${err.message}, again\n`) }
}
const out = join(root, 'out')
const { execFileSync } = await import('node:child_process')
const instr = on => { if (process.env.CG === '1') execFileSync('callgrind_control', ['-i', on ? 'on' : 'off', String(process.pid)], { stdio: 'ignore' }) }
const counted = []
const faulted = []
for (let r = 0; r < rounds; r++) {
  ;(await import('node:fs')).mkdirSync(out, { recursive: true })
  if (r >= 2) instr(true)
  const c0 = process.cpuUsage()
  const f0 = process.resourceUsage().minorPageFault
  let got = 0
  for (let g = 0; g < ranges; g++) {
    const items = hashes.slice(g * PER_RANGE, (g + 1) * PER_RANGE).map((hash, i) => ({ hash, dest: join(out, `${g}-${i}.db`) }))
    await puller.network.fetchBlocks(serverPeer, items, { maxBytes: 64 * 1024 * 1024, onBlock: () => { got++ } })
  }
  const c = process.cpuUsage(c0)
  const faults = (process.resourceUsage().minorPageFault - f0) / got
  if (r >= 2) instr(false)
  const ms = (c.user + c.system) / 1000 / got
  if (r >= 2) { counted.push(ms); faulted.push(faults) }
  process.stderr.write(`round ${r}: ${got} blocks (${readdirSync(out).length} files), ${ms.toFixed(3)} ms CPU a block, ${faults.toFixed(1)} minor faults a block\n`)
  rmSync(out, { recursive: true, force: true })
}
const s = [...counted].sort((x, y) => x - y)
const f = [...faulted].sort((x, y) => x - y)
process.stderr.write(`median CPU a block: ${s[Math.floor(s.length / 2)]?.toFixed(3)} (${s.length} rounds); median minor faults a block: ${f[Math.floor(f.length / 2)]?.toFixed(1)}\n`)
await puller.stop(); await server.stop(); chain.close()
rmSync(root, { recursive: true, force: true })
process.exit(0)
