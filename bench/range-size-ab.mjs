// A range's length, A against B, in one process with both nodes (Petal's transport, the real
// `blocks` protocol and receive): rounds of ranges of A and of B small blocks alternated (A, B, B,
// A, ...), fetchBlocks one range after another over the same first BLOCKS blocks of a chain (its
// files written, no checks, no placement); prints each round's CPU (all threads, user + system) a
// block and the medians from the fifth round on (docs/performance/catchup.md, "Session 51: range
// requests of 128 small blocks (catchup51)"). Lengths above 32 go on blocks/2.0.0.
//   node bench/range-size-ab.mjs SRC [ROUNDS=12] [BLOCKS=1024] [A=32] [B=128]
import { mkdtempSync, rmSync, mkdirSync, copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { multiaddr } from '@multiformats/multiaddr'
const dist = new URL('../dist', import.meta.url).pathname
await import(`${dist}/polyfills.js`)
const { Chain, installGenesis } = await import(`${dist}/chain/index.js`)
const { DataDir } = await import(`${dist}/storage/index.js`)
const { PetalNode } = await import(`${dist}/node/index.js`)
const [src, roundsArg, blocksArg, aArg, bArg] = process.argv.slice(2)
const rounds = Number(roundsArg ?? 12); const BLOCKS = Number(blocksArg ?? 1024); const A = Number(aArg ?? 32); const B = Number(bArg ?? 128)
const server = await PetalNode.create({ dir: src, stateFile: false, queryMirror: false, network: { listen: ['/ip4/127.0.0.1/tcp/0'], discovery: false } })
await server.start()
const source = Chain.open(src)
const hashes = source.index.range(1, BLOCKS).map(r => r.hash)
const root = mkdtempSync(join(tmpdir(), 'range-size-ab-'))
copyFileSync(source.dir.blockPath(0), join(root, 'g.db')); copyFileSync(source.dir.blockPath(0).replace(/\.db$/, '.sig'), join(root, 'g.sig'))
const chain = await installGenesis(new DataDir(join(root, 'data')), source.params, join(root, 'g.db'))
source.close()
const puller = await PetalNode.create({ dir: chain.dir.root, chain, network: { listen: [], announce: [], bootstrap: [], discovery: false }, queryMirror: false, ingest: false })
await puller.network.libp2p.start()
for (let t = 0; ; t++) { try { await puller.network.libp2p.dial(multiaddr(server.listenAddrs()[0])); break } catch (err) { if (t >= 20) throw err } }
const peer = server.network.peerId
const out = join(root, 'out')
const res = { [A]: [], [B]: [] }
for (let r = 0; r < rounds; r++) {
  const size = [A, B, B, A][r % 4]
  mkdirSync(out, { recursive: true })
  const c0 = process.cpuUsage(); let got = 0
  for (let g = 0; g * size < BLOCKS; g++) {
    const items = hashes.slice(g * size, (g + 1) * size).map((hash, i) => ({ hash, dest: join(out, `${g}-${i}.db`) }))
    await puller.network.fetchBlocks(peer, items, { maxBytes: 64 * 1024 * 1024, onBlock: () => { got++ } })
  }
  const c = process.cpuUsage(c0); const ms = (c.user + c.system) / 1000 / got
  if (r >= 4) res[size].push(ms)
  process.stderr.write(`round ${r}: ranges of ${size}: ${got} blocks, ${ms.toFixed(3)} ms CPU a block\n`)
  rmSync(out, { recursive: true, force: true })
}
const med = a => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)] }
process.stderr.write(`median CPU a block (rounds 4 on): ranges of ${A} ${med(res[A]).toFixed(3)} (${res[A].map(x => x.toFixed(3)).join(' ')}), of ${B} ${med(res[B]).toFixed(3)} (${res[B].map(x => x.toFixed(3)).join(' ')})\n`)
await puller.stop(); await server.stop(); chain.close()
rmSync(root, { recursive: true, force: true })
process.exit(0)
