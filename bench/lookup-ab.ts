// The serving side's lookup of a block by hash, old and new alternated in one process
// (docs/performance/catchup.md, "Session 52: the load:sealed crash case, ranges of 32 and 64, the serving side's lookup (catchup52)"):
// IndexDb.byHash (the 13-field record, then Chain.pathOf) against IndexDb.storedFile (four columns,
// then Chain.fileAt), over every block of a chain.db, in random order; CPU (process.cpuUsage) a lookup.
//   node --import tsx bench/lookup-ab.ts DIR [ROUNDS]
import { Chain } from '../src/chain/index.js'

const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: lookup-ab.ts DATA_DIR [ROUNDS]')
const rounds = Number(process.argv[3] ?? '8')
const chain = Chain.open(dir)
const hashes = chain.index.range(0, chain.tip().height, 1e9).map(b => b.hash)
for (let i = hashes.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [hashes[i], hashes[j]] = [hashes[j] as string, hashes[i] as string] }
let sink = 0
const ways: Record<string, () => void> = {
  byHash: () => { for (const h of hashes) { const r = chain.index.byHash(h); if (r !== undefined) sink += chain.pathOf(r).length + r.seal.length + r.size } },
  storedFile: () => { for (const h of hashes) { const r = chain.index.storedFile(h); if (r !== undefined) sink += chain.fileAt(r[0], r[1] === 1, h).length + r[2].length + r[3] } }
}
const us: Record<string, number[]> = { byHash: [], storedFile: [] }
for (let k = 0; k < rounds; k++) {
  for (const name of k % 2 === 0 ? ['byHash', 'storedFile'] : ['storedFile', 'byHash']) {
    const c = process.cpuUsage()
    ways[name]?.()
    const d = process.cpuUsage(c)
    if (k >= 2) us[name]?.push((d.user + d.system) / hashes.length)
  }
}
chain.close()
const med = (a: number[]): number => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)] ?? NaN }
for (const [name, a] of Object.entries(us)) console.log(`${name}: ${a.map(x => x.toFixed(2)).join(' ')} µs a lookup (median ${med(a).toFixed(2)}), ${hashes.length} blocks`)
console.log(`(sink ${sink})`)
