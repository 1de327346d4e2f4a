// The main thread's CPU for a catch-up's tmp/ work, on the built dist/ (`npm run build`):
// cleanTmp over a tmp/ holding N files of this process (a catch-up keeps ~500-700 there, and
// every placement's write transaction lists it), and TmpFilePool making M files ahead, taken in
// bursts of 32 as a range's receives take them. The addon's way, or node:fs's with
// PETAL_NATIVE_SHA256=0 (docs/performance/catchup.md, "Session 41: catch-up"):
//   node bench/tmp-files-micro.mjs DIR [N=650] [CALLS=400] [M=4000]
import '../dist/polyfills.js'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { nativeOpenssl } from '../dist/crypto/index.js'
import { cleanTmp, DataDir, TmpFilePool } from '../dist/storage/index.js'

const [root, nArg = '650', callsArg = '400', mArg = '4000'] = process.argv.slice(2)
nativeOpenssl() // as a catch-up's main thread has (it verifies seals with it)
const mainNs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])
rmSync(root, { recursive: true, force: true })
const dir = new DataDir(root)
mkdirSync(dir.tmpDir, { recursive: true })
for (let i = 0; i < Number(nArg); i++) writeFileSync(join(dir.tmpDir, `${process.pid}-${String(i).padStart(12, '0')}.db`), '')
for (let i = 0; i < 20; i++) cleanTmp(dir) // warm
let t = mainNs()
for (let i = 0; i < Number(callsArg); i++) cleanTmp(dir)
const clean = (mainNs() - t) / Number(callsArg) / 1000
rmSync(root, { recursive: true, force: true })
const pool = new TmpFilePool(new DataDir(root))
pool.keep(128)
let taken = 0
t = mainNs()
while (taken < Number(mArg)) {
  await new Promise(resolve => setTimeout(resolve, 1))
  for (let i = 0; i < 32 && pool.size > 0; i++) { pool.take(); taken++ }
}
const make = (mainNs() - t) / taken / 1000
await pool.close()
rmSync(root, { recursive: true, force: true })
process.stdout.write(`${process.env.PETAL_NATIVE_SHA256 === '0' ? 'node:fs' : 'addon'}: cleanTmp over ${nArg} own files ${clean.toFixed(1)} µs a call; pool ${make.toFixed(2)} µs of main-thread CPU a file taken (${taken} files, timers included)\n`)
