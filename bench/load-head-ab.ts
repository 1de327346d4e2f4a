// A load thread's checks of a catch-up's small blocks, old and new alternated in one process
// (docs/performance/catchup.md, "Session 53: the load thread's reading again of a small block (catchup53)"):
// checkLoad given a block's first 4,096 bytes as its head (the file is opened and read back whole, as
// before session 53) against its whole bytes (checked from them, the file untouched), over copies of
// a chain's first blocks in a tmp/ directory (hot in the page cache, as a download just written);
// CPU (process.cpuUsage: this thread's checks, SQLite included) a block.
//   node --import tsx bench/load-head-ab.ts DIR [BLOCKS] [ROUNDS]
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Chain } from '../src/chain/index.js'
import { checkLoad, type LoadRequest } from '../src/chain/load-check.js'
import { readSeal } from '../src/storage/index.js'

const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: load-head-ab.ts DATA_DIR [BLOCKS] [ROUNDS]')
const chain = Chain.open(dir)
const n = Math.min(Number(process.argv[3] ?? '2000'), chain.tip().height)
const rounds = Number(process.argv[4] ?? '10')
const tmp = mkdtempSync(join(tmpdir(), 'load-head-ab-'))
const keys = Object.fromEntries(chain.keysAt(chain.tip()).active().map(k => [k.keyId, k.publicKey.hex]))
const ways: Record<string, LoadRequest[]> = { file: [], whole: [] }
for (const b of chain.index.range(1, n, n)) {
  const src = chain.pathOf(b)
  const path = join(tmp, `${b.height}.db`)
  copyFileSync(src, path)
  const bytes = readFileSync(path)
  const base = { path, seal: readSeal(src), expectedHash: b.hash, knownHash: b.hash, ownDownload: true, maxBytes: chain.params.maxBlockBytes, keys }
  ways.file?.push({ ...base, head: { bytes: bytes.slice(0, 4096), size: bytes.length } })
  ways.whole?.push({ ...base, head: { bytes: new Uint8Array(bytes), size: bytes.length } })
}
chain.close()
const us: Record<string, number[]> = { file: [], whole: [] }
try {
  for (let k = 0; k < rounds; k++) {
    for (const name of k % 2 === 0 ? ['file', 'whole'] : ['whole', 'file']) {
      const c = process.cpuUsage()
      for (const r of ways[name] ?? []) await checkLoad(r)
      const d = process.cpuUsage(c)
      if (k >= 2) us[name]?.push((d.user + d.system) / n)
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
const med = (a: number[]): number => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)] ?? NaN }
for (const [name, a] of Object.entries(us)) console.log(`${name}: ${a.map(x => x.toFixed(1)).join(' ')} µs a block (median ${med(a).toFixed(1)}), ${n} blocks`)
