import { describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeSqlite } from '../helpers/chain.js'
import { petal } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { petalInProcess } from '../helpers/cli.js'

// A group placement commits chain.db at synchronous = NORMAL, then fsyncs chain.db-wal on the
// thread pool. Linux reports a writeback error once to each descriptor that was open on the file
// when it happened, and to a descriptor opened later only if no descriptor has seen it: SQLite's
// own fsync of the -wal inside the COMMIT (an automatic checkpoint's, whose failure SQLite ignores)
// took the report, and the fsync through a descriptor opened after the COMMIT succeeded, the group
// taken as durable and its journal removed (review35). The kernel's bookkeeping cannot be faked by
// the fault shim (it fails a call, it marks no page): what is checked is the order of the calls.
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'petal.js')
// strace present and allowed to trace (a container without ptrace has the one, not the other).
const withStrace = spawnSync('strace', ['-f', '-qq', '-e', 'trace=none', 'true']).status === 0
const TRACE = ['-f', '-y', '-qq', '-e', 'trace=openat,pwrite64,fsync,fdatasync']

/**
 * For each read-only descriptor of `wal` in an strace log (the deferred fsync's; SQLite's own is
 * read-write): how many frames were written to the -wal between its open and its first sync (fsync
 * for chain.db-wal, fdatasync for pending.db-wal).
 */
function framesBeforeSync (log: string, wal: string): number[] {
  const name = wal.replaceAll('.', '\\.')
  const opened = new Map<string, number>()
  const between: number[] = []
  let writes = 0
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    if (!line.includes(wal)) continue
    const open = new RegExp(`openat\\([^,]+, "[^"]*/${name}", O_RDONLY[^)]*\\) = (\\d+)`).exec(line)
    if (open !== null) { opened.set(open[1] ?? '', writes); continue }
    if (new RegExp(`pwrite64\\(\\d+<[^>]*/${name}>`).test(line)) { writes++; continue }
    const fd = new RegExp(`f(?:data)?sync\\((\\d+)<[^>]*/${name}>`).exec(line)?.[1] ?? ''
    const at = opened.get(fd)
    if (at !== undefined) { between.push(writes - at); opened.delete(fd) }
  }
  return between
}

describe.runIf(withStrace)('the deferred fsync of chain.db-wal', () => {
  it('goes through a descriptor opened before the group\'s COMMIT wrote its frames', async () => {
    const src = join(tmpDir(), 'src')
    expect((await petalInProcess(['--dir', src, 'init'])).code).toBe(0)
    const dst = join(tmpDir(), 'dst')
    cpSync(src, dst, { recursive: true })
    for (let i = 1; i <= 3; i++) expect((await petalInProcess(['--dir', src, 'signimportblock', makeSqlite(join(tmpDir(), `s${i}.db`), 10, i)])).code).toBe(0)
    const log = join(tmpDir(), 'strace.log')
    const r = spawnSync('strace', [...TRACE, '-o', log, process.execPath, BIN, '--dir', dst, 'import', '--from', src], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const between = framesBeforeSync(log, 'chain.db-wal')
    expect(between.length).toBeGreaterThan(0)
    // Before: opened just before its fsync, after the COMMIT ([0]).
    expect(between.every(n => n > 0), between.join(' ')).toBe(true)
  }, 60_000)

  it('of pending.db-wal too: the group commit\'s descriptor is opened before its first deferred COMMIT', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const token = (await petal(['--dir', dir, 'tokens', 'create'])).stdout.trim()
    const log = join(tmpDir(), 'strace.log')
    const proc = spawn('strace', [...TRACE, '-o', log, process.execPath, BIN, '--dir', dir, 'run', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', '--http', '127.0.0.1:0', '--seal-every', '3600'], { stdio: ['ignore', 'pipe', 'inherit'] })
    const ended = new Promise<void>(resolve => proc.once('exit', () => { resolve() }))
    let out = ''
    proc.stdout.on('data', (b: Buffer) => { out += b.toString() })
    try {
      const url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out)?.[1], { timeout: 60_000, what: 'the node\'s HTTP URL' })
      const post = async (a: number): Promise<number> => (await fetch(url + 'api/v1/records/kept', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify([{ a }]) })).status
      // Concurrent clients: their groups commit without an fsync, then fsync the -wal (deferred).
      for (let from = 0; from < 64; from += 16) expect(await Promise.all(Array.from({ length: 16 }, async (_, i) => await post(from + i)))).toEqual(Array(16).fill(202))
    } finally {
      // The node is strace's child: stopped, strace ends with it.
      for (const pid of readFileSync(`/proc/${proc.pid ?? 0}/task/${proc.pid ?? 0}/children`, 'utf8').trim().split(/\s+/)) if (pid !== '') process.kill(Number(pid), 'SIGTERM')
      await ended
    }
    const between = framesBeforeSync(log, 'pending.db-wal')
    expect(between.length).toBeGreaterThan(0)
    // Before: opened at the first fsync, after the first deferred group's COMMIT ([0]).
    expect(between.every(n => n > 0), between.join(' ')).toBe(true)
  }, 90_000)
})
