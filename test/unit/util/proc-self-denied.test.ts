import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { holdIn, nodeScript, nsImport, nsLoader } from '../../helpers/pid-namespace.js'
import { procSelfDeniedEnv, procSelfDeniedShim } from '../../helpers/proc-self-denied.js'
import { tmpDir } from '../../helpers/tmp.js'

// procIsOwn reads /proc/self to tell whether /proc lists this process's pids. Only its absence
// (ENOENT, /proc being there) says that /proc is another namespace's: an LSM's refusal (EACCES,
// EPERM) says what this process may read. Taken as "not own" on 42b86f3, such a process (its own
// namespace unreadable too) switched every /proc check off, and judged a node of its own namespace
// as one of another: by node.lock alone, without its pid here.

describe.runIf(process.platform === 'linux' && procSelfDeniedShim() !== undefined)('/proc/self refused to this process', () => {
  for (const errno of ['EACCES', 'EPERM'] as const) {
    it(`(${errno}) leaves /proc its own: a node of its namespace is named by its pid here (failed on 42b86f3: another namespace's)`, async () => {
      const dir = tmpDir()
      const node = await holdIn(nodeScript(dir), { own: false })
      try {
        const script = `const util = await import(${nsImport()}); const { readNodeState, otherNamespace } = util
const s = readNodeState(${JSON.stringify(dir)})
process.stdout.write(JSON.stringify({ own: util.procIsOwn(), ns: util.pidNamespace(), here: s?.here ?? null, other: s === undefined ? null : otherNamespace(s), holders: util.lockHolders(${JSON.stringify(`${dir}/node.lock`)}) ?? null }))`
        const r = spawnSync(process.execPath, [...nsLoader(), '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...procSelfDeniedEnv(errno) } })
        expect(r.status, r.stderr).toBe(0)
        // Its own namespace cannot be read (the link is refused too): its temporaries say n0.
        expect(JSON.parse(r.stdout)).toEqual({ own: true, ns: '', here: node.said.pid, other: false, holders: [node.said.pid] })
      } finally {
        await node.stop()
      }
    }, 30_000)
  }
})
