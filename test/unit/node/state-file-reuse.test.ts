import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readNodeState } from '../../../src/node/state-file.js'
import { holdIn, lockScript, nodeScript, nsImport, nsLoader, unsharePid, type Held } from '../../helpers/pid-namespace.js'
import { tmpDir } from '../../helpers/tmp.js'

// node.lock's holder is a process whose namespace the reader sees and whose pid there is the
// killed node's: the same namespace (kept alive by its pid 1) and the same pid (ns_last_pid), as
// a kernel that reuses a namespace's number gives it by chance (temps44 saw it once in a full
// run). A reader of the parent namespace (it sees the holder by its namespace and pid there) and
// one inside that namespace (the pid is its own) must both tell the killed node's file from a
// running node's: its writer said it holds node-state.lock, which the kill released.

const PID = 100

/** The command line that runs a command in `keeper`'s namespaces as pid PID there. */
function asPid (keeper: Held): string[] {
  return ['nsenter', '--target', String(keeper.here), '--pid', '--mount', `--wd=${process.cwd()}`, 'sh', '-c', `echo ${PID - 1} > /proc/sys/kernel/ns_last_pid && "$0" "$@"; :`]
}

/** readNodeState as a process of `keeper`'s namespace judges it: the node's pid there, or null. */
function readInside (keeper: Held, dir: string): number | null {
  const script = `const { readNodeState } = await import(${nsImport()}); process.stdout.write(JSON.stringify(readNodeState(${JSON.stringify(dir)})?.here ?? null))`
  const r = spawnSync('nsenter', ['--target', String(keeper.here), '--pid', '--mount', `--wd=${process.cwd()}`, process.execPath, ...nsLoader(), '--input-type=module', '-e', script], { encoding: 'utf8' })
  expect(r.status, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as number | null
}

describe.runIf(unsharePid() && spawnSync('nsenter', ['--version']).status === 0)('a killed node\'s pid and namespace taken by node.lock\'s next holder', () => {
  it('is no running node, from the parent namespace nor from its own (failed on 5ce8b8c from its own: running)', async () => {
    const dir = tmpDir()
    const keeper = await holdIn(`process.stdout.write('{}\\n'); process.stdin.resume(); process.stdin.on('end', () => { process.exit(0) })`, { own: true })
    let holder: Held | undefined
    try {
      const node = await holdIn(nodeScript(dir, 'kill'), { wrap: asPid(keeper) })
      expect(node.said.pid).toBe(PID)
      const file = JSON.parse(readFileSync(join(dir, 'node-state.json'), 'utf8'))
      expect(file).toMatchObject({ pid: PID, state_lock: true })
      // The live node, as both readers see it.
      expect(readNodeState(dir)).toMatchObject({ pid: PID, pid_ns: file.pid_ns })
      expect(readInside(keeper, dir)).toBe(PID)
      await node.stop() // killed: its file stays
      holder = await holdIn(lockScript(dir), { wrap: asPid(keeper) })
      expect(holder.said).toEqual({ pid: PID, held: true })
      expect(JSON.parse(readFileSync(join(dir, 'node-state.json'), 'utf8'))).toEqual(file)
      expect(readNodeState(dir)).toBeUndefined()
      expect(readInside(keeper, dir)).toBeNull()
    } finally {
      await holder?.stop()
      await keeper.stop()
    }
  })
})
