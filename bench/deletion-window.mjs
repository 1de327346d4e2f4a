// What a deletion of many files costs the next files created beside it, on a file system that
// skips recently freed inodes (ext4 without a journal: 60 s, 360 s while the inode-table block is
// dirty): the network bench's settle() waits out that window after its own deletions
// (docs/performance/catchup.md, "Session 54: the bench's own deletions before the catch-up (pipe54)").
//   node bench/deletion-window.mjs [rounds=3] [deleted=20000] [created=2000]
// Each round: a directory of `deleted` empty files made and removed (a pulled chain, as the bench
// removes one at its end), `sync`, 5 s idle, then `created` files made in a new directory (as the next
// run's pull would: A); then, 61 s after the deletion and another `sync`, the same again (B).
// Prints the CPU (user + system, of this process) a file made, for A and B.
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const [rounds, deleted, created] = [3, 20_000, 2_000].map((d, i) => Number(process.argv[2 + i] ?? d))
const root = mkdtempSync(join(tmpdir(), 'petal-deletion-window-'))
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

function make (dir, n) {
  mkdirSync(dir, { recursive: true })
  for (let i = 0; i < n; i++) closeSync(openSync(join(dir, `${i}.db`), 'wx'))
}

/** µs of this process's CPU a file made, `n` files in a new directory. */
function measure (name, n) {
  const dir = mkdtempSync(join(root, `${name}-`))
  const c0 = process.cpuUsage()
  make(join(dir, 'blocks'), n)
  const c = process.cpuUsage(c0)
  return { cpu: (c.user + c.system) / n, system: c.system / n }
}

const a = []
const b = []
try {
  for (let r = 0; r < rounds; r++) {
    const churn = mkdtempSync(join(root, 'churn-'))
    make(join(churn, 'blocks'), deleted)
    execFileSync('sync')
    rmSync(churn, { recursive: true, force: true })
    const at = Date.now()
    execFileSync('sync')
    await sleep(5000)
    a.push(measure('a', created))
    await sleep(Math.max(0, at + 61_000 - Date.now()))
    execFileSync('sync')
    b.push(measure('b', created))
    const f = x => `${x.cpu.toFixed(1)} (system ${x.system.toFixed(1)})`
    process.stdout.write(`round ${r + 1}: µs of CPU a file made 5 s after the deletion of ${deleted}: ${f(a[r])}; 61 s after: ${f(b[r])}\n`)
  }
} finally {
  rmSync(root, { recursive: true, force: true })
}
