import { afterAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { armFault, faultResult, faultShim } from '../helpers/fault-shim.js'
import { stopAll } from '../helpers/network.js'
import { groupFaultNode } from '../helpers/faulted-node.js'
import { petal } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

// The pending store's group commit after its deferred fsync of pending.db-wal failed re-writes the
// log into pending.db (a TRUNCATE checkpoint, session 34). Another process reading pending.db
// (`petal receipt`, an operator's sqlite3) can keep that checkpoint from finishing for a while
// (review35).
afterAll(stopAll)
const withCc = faultShim() !== undefined
const ROOT = join(import.meta.dirname, '..', '..')

/** Another process holding a read snapshot of `file` until release() (a reader's open transaction). */
async function holdSnapshot (file: string): Promise<{ release: () => Promise<void> }> {
  const script = `const db = new (require('better-sqlite3'))(process.argv[1]); db.exec('BEGIN'); db.prepare('SELECT count(*) FROM rows').get(); process.stdout.write('held\\n'); process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0) })`
  const child = spawn(process.execPath, ['-e', script, file], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  await waitFor(() => out.includes('held'), { what: 'the reader\'s snapshot' })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  return { release: async () => { child.stdin.write('go\n'); await exited } }
}

describe.runIf(withCc)('a group commit whose deferred fsync failed, with a reader in another process', () => {
  it('waits for the reader to re-write the log, then acknowledges: never refused yet sealed', async () => {
    const { dir, node, fault: f, statuses, burst } = await groupFaultNode()
    try {
      await burst(0)
      // A snapshot from before the failing group: the checkpoint can neither copy that group's
      // frames into pending.db nor empty the -wal while it is held.
      const reader = await holdSnapshot(join(dir, 'pending.db'))
      armFault(f)
      const bursts = (async () => { for (let from = 100; faultResult(f).injected === 0 && from < 1000; from += 100) await burst(from) })()
      await waitFor(() => faultResult(f).injected > 0, { what: 'the failed fsync' })
      // The reader holds on for a while: the old code gave up after one second (its busy timeout,
      // the event loop blocked meanwhile) and refused the group with 503, rows committed. The new
      // code answers nothing before the log is re-written, whenever the reader lets go.
      await Promise.race([bursts, new Promise(resolve => setTimeout(resolve, 4000))])
      await reader.release()
      await bursts
      expect(faultResult(f).log.join('\n')).toMatch(/ fdatasync 1 node .*pending\.db-wal$/)
    } finally { await node.kill9() }
    expect(statuses.every(x => x === 202), statuses.join(' ')).toBe(true)
    const s = await petal(['--dir', dir, '--json', 'seal'])
    expect(s.code, s.stderr).toBe(0)
    expect((JSON.parse(s.stdout) as { rows: number }).rows).toBe(statuses.length)
  }, 90_000)
})
