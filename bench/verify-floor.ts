// The floor of plain verify on small blocks as its contract states it (docs/cli.md: every block's
// file hashed, its seal file read, both signatures checked), with nothing else done: per block,
// the block file opened as verify opens it (O_NOFOLLOW | O_NONBLOCK), fstat'ed (a pipe or a device
// in a slot is refused), read whole and closed, its SHA-256, the same for the seal file (read, not
// hashed), and two ECDSA P-256 verifications (node:crypto). No page is parsed, no message crosses
// threads but the last, nothing is checked in order. The bench's two-ECDSA floor leaves out the
// eight system calls and the hashing; this one is what any implementation of the contract pays.
import { execFileSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { userEnv } from './user-env.js'

const BODY = `const { parentPort, workerData } = require('node:worker_threads'); const c = require('node:crypto'); const fs = require('node:fs')
    const { publicKey, privateKey } = c.generateKeyPairSync('ec', { namedCurve: 'P-256' }); const msg = Buffer.alloc(100, 7); const sig = c.sign('sha256', msg, privateKey)
    const flags = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK; const buf = Buffer.allocUnsafe(1 << 20)
    const readAll = p => { const fd = fs.openSync(p, flags); try { if (!fs.fstatSync(fd).isFile()) throw new Error(p + ' is not a regular file'); return fs.readSync(fd, buf, 0, buf.length, 0) } finally { fs.closeSync(fd) } }
    for (const f of workerData) {
      const n = readAll(f); c.createHash('sha256').update(buf.subarray(0, n)).digest('hex')
      buf.toString('utf8', 0, readAll(f.replace(/[.]db$/, '.sig'))).trim()
      if (!c.verify('sha256', msg, publicKey, sig) || !c.verify('sha256', msg, publicKey, sig)) throw new Error('does not verify')
    }
    parentPort.postMessage(0)`

/** The contract's floor over these block files (up to 1 MiB each), split over `n` worker threads of this process. */
export async function contractFloor (files: string[], n: number): Promise<void> {
  const parts = Array.from({ length: n }, (_, i) => files.filter((_, j) => j % n === i))
  await Promise.all(parts.map(async p => await new Promise((resolve, reject) => { const w = new Worker(BODY, { eval: true, workerData: p }); w.on('message', resolve); w.on('error', reject) })))
}

// The file list each floor process reads, written once per list (it was written inside every
// timed run: ~0.5 MB for the 10,001 small blocks, a cost on the floor's side only).
const lists = new WeakMap<string[], { scratch: string, list: string }>()
let written = 0

/** The same in a process of its own, as the CLI runs (process start-up on both sides). */
export function contractFloorProcess (files: string[], n: number, scratch: string): void {
  let known = lists.get(files)
  if (known?.scratch !== scratch || !existsSync(known.list)) {
    known = { scratch, list: join(scratch, `floor-files-${files.length}-${++written}.json`) }
    writeFileSync(known.list, JSON.stringify(files))
    lists.set(files, known)
  }
  const list = known.list
  const src = `const { Worker } = require('node:worker_threads'); const files = JSON.parse(require('node:fs').readFileSync(process.argv[1], 'utf8')); const n = ${n}
    const body = ${JSON.stringify(BODY)}
    const parts = Array.from({ length: n }, (_, i) => files.filter((_, j) => j % n === i))
    Promise.all(parts.map(p => new Promise((resolve, reject) => { const w = new Worker(body, { eval: true, workerData: p }); w.on('message', resolve); w.on('error', reject) }))).then(() => process.exit(0), e => { console.error(e); process.exit(1) })`
  execFileSync(process.execPath, ['-e', src, list], { stdio: ['ignore', 'ignore', 'inherit'], env: userEnv })
}
