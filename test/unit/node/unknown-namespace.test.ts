import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { nodePid, otherNamespace, readNodeState } from '../../../src/node/state-file.js'
import { describeWriter, readWriterRecord, writerDetails } from '../../../src/storage/writer-record.js'
import { lockHolders, pidNamespace } from '../../../src/util/index.js'
import { holdIn, IN_NEW_NAMESPACE, nsImport, unsharePid } from '../../helpers/pid-namespace.js'
import { procSelfDeniedShim } from '../../helpers/proc-self-denied.js'
import { tmpDir } from '../../helpers/tmp.js'

// A writer of node-state.json and writer.json that cannot read its own PID namespace (here: its
// readlink of /proc/self/ns/pid refused, by the LD_PRELOAD shim of proc-self-denied.c) records
// `pid_ns: "0"` (session 47). It left the field out before, and a reader of any namespace took its
// pid for one of its own, as an older Petal's record: a node in a PID namespace of its own (pid 1
// there) was judged by this namespace's pid 1, alive but not node.lock's holder, so `status` said
// no node ran beside a running one. Its pid is now never taken as this namespace's: the node is
// judged by the locks alone, and named without a pid to kill here.

/** A node that cannot read its namespace: takes node.lock, writes node-state.json and writer.json, prints what it could read. */
function script (dir: string): string {
  return `const { takeNodeLock, writeNodeState, writeWriterRecord, pidNamespace } = await import(${nsImport()})
const root = ${JSON.stringify(dir)}; const lock = takeNodeLock(root); const now = new Date().toISOString()
await writeNodeState(root, { pid: process.pid, peer_id: '12D3KooWnode', role: 'signatory', listen: [], started_at: now, updated_at: now, sync: { state: 'idle', height: 0 }, peers: [], banned: 0 })
writeWriterRecord(root + '/writer.json', 'signimportblock data.db')
process.stdout.write(JSON.stringify({ pid: process.pid, ns: pidNamespace() }) + '\\n')
process.stdin.resume(); process.stdin.on('end', () => { void lock; process.kill(process.pid, 'SIGKILL') })`
}

const denied = (): string[] => ['env', `LD_PRELOAD=${procSelfDeniedShim() ?? ''}`, 'PETAL_DENY_ERRNO=EACCES']

describe.runIf(process.platform === 'linux' && pidNamespace() !== '' && procSelfDeniedShim() !== undefined)('a writer that cannot read its own PID namespace', () => {
  for (const where of ['its own PID namespace', 'this PID namespace'] as const) {
    const own = where === 'its own PID namespace'
    it.runIf(!own || unsharePid())(`in ${where}: records pid_ns "0", and its pid is never taken for one of this namespace (failed before session 47${own ? ': no node was said to run' : ': pid_ns absent'})`, async () => {
      const dir = tmpDir()
      const held = await holdIn(script(dir), { wrap: own ? [...IN_NEW_NAMESPACE, ...denied()] : denied() })
      try {
        expect(held.said).toEqual({ pid: own ? 1 : held.here, ns: '' })
        // node.lock's holder as the kernel lists it here: the node, by its pid here.
        const node = own ? Number(readFileSync(`/proc/${held.here}/task/${held.here}/children`, 'utf8').trim()) : held.here
        expect(lockHolders(join(dir, 'node.lock'))).toEqual([node])
        // Running, judged by the locks; no pid here is claimed for it.
        const s = readNodeState(dir)
        expect(s).toMatchObject({ pid: held.said.pid, pid_ns: '0', peer_id: '12D3KooWnode' })
        expect(s?.here).toBeUndefined()
        for (const file of ['node-state.json', 'writer.json']) expect(JSON.parse(readFileSync(join(dir, file), 'utf8')).pid_ns, file).toBe('0')
        expect(s === undefined ? undefined : otherNamespace(s)).toBe(true)
        expect(s === undefined ? '' : nodePid(s)).toBe(`pid ${String(held.said.pid)} in a PID namespace it could not read`)
        // writer.json: named as it says, never acted on by pid (here its start time matched nothing).
        const w = readWriterRecord(join(dir, 'writer.json'))
        expect(w).toMatchObject({ pid: held.said.pid, pid_ns: '0', work: 'signimportblock data.db' })
        expect(w?.here).toBeUndefined()
        expect(describeWriter(w)).toMatch(new RegExp(`^pid ${String(held.said.pid)} in a PID namespace it could not read \\(signimportblock data\\.db, since `))
        expect(writerDetails(w)).toMatchObject({ other_pid_ns: true, ns_pid: held.said.pid, pid_ns: '0' })
        expect(writerDetails(w)).not.toHaveProperty('pid')
      } finally {
        await held.stop()
      }
      // Killed: node.lock and node-state.lock are free, and the file left behind is no running node.
      expect(readNodeState(dir)).toBeUndefined()
    }, 30_000)
  }
})
