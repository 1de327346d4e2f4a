// node.lock decides which of several processes runs a node on a data directory. Processes that
// start at the same instant (two `petal run`, a run and a pull) race for it: exactly one may win,
// and each loser must give up after its wait (NodeLock.LOOK_WAIT_MS), not hang nor also win.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'

const ENTRY = srcEntry('storage', 'index.ts')
const STORAGE = JSON.stringify(ENTRY)
// At wall time argv[2] (all at once), take the lock waiting argv[3] ms; keep a won lock argv[4] ms,
// or until stdin ends when argv[4] is 'stdin' (the parent ends it once every racer has reported:
// a racer that loads late under load, after a timed holder let go, would rightly win too).
const RACER = `const { NodeLock } = await import(${STORAGE})
const [dir, at, wait, keep] = process.argv.slice(1)
await new Promise(resolve => setTimeout(resolve, Math.max(0, Number(at) - Date.now() - 20)))
while (Date.now() < Number(at)) {}
const t = performance.now()
const lock = NodeLock.tryAcquire(dir, 'node.lock', Number(wait))
console.log(JSON.stringify({ won: lock !== undefined, ms: performance.now() - t }))
if (keep === 'stdin') process.stdin.on('data', () => {}).on('end', () => { lock?.release() })
else setTimeout(() => { lock?.release() }, lock === undefined ? 0 : Number(keep))`

async function race (dir: string, n: number, waitMs: number, keep: number | 'stdin'): Promise<Array<{ won: boolean, ms: number }>> {
  const loader = ENTRY.endsWith('.ts') ? ['--import', createRequire(import.meta.url).resolve('tsx')] : []
  // Far enough ahead for every process to have loaded before it.
  const at = Date.now() + 3000
  const children = Array.from({ length: n }, () => spawn(process.execPath, [...loader, '--input-type=module', '-e', RACER, dir, String(at), String(waitMs), String(keep)], { stdio: ['pipe', 'pipe', 'inherit'] }))
  const exited = children.map(async child => await new Promise<void>((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', code => { code === 0 ? resolve() : reject(new Error(`racer exited ${String(code)}`)) })
  }))
  // Each racer's one line, read as soon as it is written (the winner of a 'stdin' race is still holding).
  const results = await Promise.all(children.map(async (child, i) => await new Promise<{ won: boolean, ms: number }>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(JSON.parse(out) as { won: boolean, ms: number })
    })
    exited[i]?.then(() => { reject(new Error(`racer ended without a line: ${out}`)) }, reject)
  })))
  for (const child of children) child.stdin.end()
  await Promise.all(exited)
  return results
}

describe('node.lock raced by processes starting at once', () => {
  it('exactly one wins; the others give up after their wait', async () => {
    const dir = tmpDir()
    const results = await race(dir, 4, 1000, 'stdin')
    expect(results.filter(r => r.won)).toHaveLength(1)
    for (const r of results.filter(r => !r.won)) expect(r.ms).toBeGreaterThanOrEqual(900)
  }, 30_000)

  it('a lock held for less than the wait goes to one of the waiters; none is refused for a holder that let go', async () => {
    const dir = tmpDir()
    // Each winner keeps it 100 ms; the others wait up to 10 s, so every one gets it in turn.
    const results = await race(dir, 3, 10_000, 100)
    expect(results.filter(r => r.won)).toHaveLength(3)
  }, 30_000)
})
