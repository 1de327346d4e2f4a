import { describe, expect, it } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, petal } from '../helpers/cli.js'
import { holdIn, lockScript, nodeScript, runInNewNamespace, unsharePid, type Held } from '../helpers/pid-namespace.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// A node in one container, `petal status` in another, a third process in a third (sibling PID
// namespaces: none sees the others, /proc/locks lists none of their locks). The node is killed
// and another process takes node.lock (a starting node before it removes the killed one's file,
// another command's look, either one stopped there). Until session 44 status knew only that
// node.lock was held and that the file named a node it cannot see: it said that node ran, for as
// long as the other process held the lock. The writer of node-state.json now holds
// node-state.lock too, and such a reader looks at that (docs/data-directory.md).

/** `petal --json status` in a PID namespace of its own: its node object. */
function statusElsewhere (dir: string): Record<string, unknown> {
  const r = runInNewNamespace([process.execPath, CLI, '--dir', dir, '--json', 'status'])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { node: Record<string, unknown> }).node
}

describe.runIf(unsharePid())('a node of a sibling PID namespace, killed while another unseen process holds node.lock', () => {
  it('petal status from a third namespace says it runs while it does, and not once it is killed (failed before session 44: running)', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const node = await holdIn(nodeScript(dir), { own: true })
    let killed = false
    let other: Held | undefined
    try {
      expect(JSON.parse(readFileSync(join(dir, 'node-state.json'), 'utf8'))).toMatchObject({ pid: 1, state_lock: true })
      // The common case: a live node that no process here can see is running.
      expect(statusElsewhere(dir)).toMatchObject({ running: true, other_pid_ns: true, ns_pid: 1, role: 'signatory' })
      expect(statusElsewhere(dir)).not.toHaveProperty('state_lock')
      process.kill(node.here, 'SIGKILL')
      killed = true
      await node.stop()
      other = await holdIn(lockScript(dir), { own: true })
      expect(other.said.held).toBe(true)
      expect(existsSync(join(dir, 'node-state.json'))).toBe(true)
      expect(statusElsewhere(dir)).toEqual({ running: false })
      // From this namespace too (the holder is visible here: it was judged right before as well).
      const s = await petal(['--dir', dir, '--json', 'status'])
      expect(JSON.parse(s.stdout).node).toEqual({ running: false })
    } finally {
      await other?.stop()
      if (!killed) await node.stop()
    }
    // A node started there now takes both locks and is seen again.
    const next = await holdIn(nodeScript(dir), { own: true })
    try {
      await waitFor(() => statusElsewhere(dir).running === true, { what: 'the new node to be seen' })
    } finally {
      await next.stop()
    }
  })
})
