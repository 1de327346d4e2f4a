// A/B of a load thread's check of 1 MB downloads, two (or more) builds' modules in one thread:
// rounds of N block files of a chain (copies written with writeFileSync, as the download writes
// them), each read as the load thread reads an own download (readOwnDownload: the whole file into
// the thread's buffer) and checked by readBlockFile over those bytes (SQLite's checks through the
// held-bytes addon, the manifest's rows from the same bytes). Builds alternate round by round
// (A B, B A, …); each round prints this thread's CPU (schedstat, ns) a block. The first two rounds
// of each build (warm-up) are left out of the summary: median of each build, and how many paired
// rounds the second build was the cheaper. COUNT=1 also counts the rows the WebAssembly leaf
// encoder encoded in each build (docs/performance/pull.md, "Session 36: the 1 MB pull").
//   node bench/pull-work.mjs build SRC 1000
//   node bench/load-ab.mjs SRC ROUNDS N OLD/dist NEW/dist
// Each dist/ in a directory named dist with node_modules beside it (the native addons are found
// at ../../dist/native from the modules: bench/pull-work.mjs says why).
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'

const [src, roundsArg, perArg, ...dists] = process.argv.slice(2)
if (src === undefined || dists.length === 0) {
  process.stderr.write('usage: node bench/load-ab.mjs SRC ROUNDS N DIST...\n')
  process.exit(2)
}
const rounds = Number(roundsArg)
const per = Number(perArg)
const files = readdirSync(join(src, '0000')).filter(f => f.endsWith('.db') && f !== 'block_00000000.db').sort().slice(0, per)
const tmp = join(tmpdir(), `load-ab-${process.pid}`)
mkdirSync(tmp, { recursive: true })
const copies = files.map((f, i) => { const p = join(tmp, `b${i}.db`); writeFileSync(p, readFileSync(join(src, '0000', f))); return p })

const builds = []
for (const dist of dists) {
  await import(`${dist}/polyfills.js`)
  const { readBlockFile } = await import(`${dist}/block/index.js`)
  const { readOwnDownload } = await import(`${dist}/chain/load-check.js`)
  const { merkleHasher } = await import(`${dist}/crypto/sha256-native.js`)
  const { WasmLeafEncoder } = await import(`${dist}/block/leaf-wasm.js`)
  const b = { dist, readBlockFile, readOwnDownload, hasher: merkleHasher().hasher, ms: [], wasmRows: 0 }
  if (process.env.COUNT === '1') {
    const encode = WasmLeafEncoder.prototype.encode
    WasmLeafEncoder.prototype.encode = function (h, from, to, usable) { const next = encode.call(this, h, from, to, usable); b.wasmRows += next - from; return next }
  }
  builds.push(b)
}

const threadNs = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0])
for (let r = 0; r < rounds; r++) {
  for (const b of (r % 2 === 0 ? builds : [...builds].reverse())) {
    const t0 = threadNs()
    for (const p of copies) {
      const bytes = b.readOwnDownload(p)
      await b.readBlockFile(p, { maxBytes: 16 << 20, head: { bytes, size: bytes.length }, bytes })
    }
    b.ms.push((threadNs() - t0) / 1e6 / copies.length)
  }
}
rmSync(tmp, { recursive: true, force: true })

const median = xs => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
for (const b of builds) {
  process.stdout.write(`${b.dist} (${b.hasher} hasher${process.env.COUNT === '1' ? `, ${b.wasmRows} rows in WebAssembly` : ''}): ${b.ms.map(x => x.toFixed(3)).join(' ')} ms a block; median ${median(b.ms.slice(2)).toFixed(3)}\n`)
}
if (builds.length === 2) {
  const [a, b] = builds
  const d = a.ms.slice(2).map((x, i) => b.ms[i + 2] - x)
  process.stdout.write(`second − first: median ${median(d).toFixed(3)} ms a block; second cheaper in ${d.filter(x => x < 0).length} of ${d.length} rounds\n`)
}
