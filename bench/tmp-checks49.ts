import '../src/polyfills.js'
import { readFileSync } from 'node:fs'
import { readBlockFile } from '../src/block/index.js'
import { Chain } from '../src/chain/index.js'
const dir = process.argv[2] as string
const n = Number(process.argv[3] ?? 100)
const chain = Chain.open(dir)
const blocks: Array<{ path: string, bytes: Buffer }> = []
for (let h = 1; h <= n; h++) { const r = chain.get(h)!; const p = chain.pathOf(r); blocks.push({ path: p, bytes: readFileSync(p) }) }
chain.close()
for (const b of blocks) b.bytes.reduce((a, x) => a ^ x, 0) > 999 && console.log('')
for (let round = 0; round < 4; round++) {
  const c = process.cpuUsage()
  for (const b of blocks) await readBlockFile(b.path, { maxBytes: Number.MAX_SAFE_INTEGER, bytes: b.bytes, head: { bytes: b.bytes.subarray(0, 4096), size: b.bytes.byteLength } })
  const u = process.cpuUsage(c)
  console.log(`round ${round}: ${((u.user + u.system) / 1000 / n).toFixed(2)} ms/block (user ${(u.user / 1000 / n).toFixed(2)})`)
}
