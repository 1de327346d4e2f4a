import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, describe, it, onTestFinished } from 'vitest'
import type { Chain } from '../../../src/chain/index.js'
import { QuerySandbox } from '../../../src/query/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { rowsOf } from '../../helpers/query.js'
import { holdsMirror, sandboxParentArgs } from '../../helpers/sandbox-proc.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait.js'

// The kernel clears a parent-death signal at an exec that raises privileges: one that gives the
// process capabilities it did not have (commit_creds), or a set-ID exec (AT_SECURE, begin_new_exec):
// a Node binary with file capabilities (`setcap cap_net_bind_service+ep`, to serve the API on a
// port under 1024) or a set-group-ID Node, run by another user than root. `setpriv --pdeathsig KILL`
// sets the signal before it execs Node, so there it was lost, and the sandbox started no watchdog
// thread of its own: one whose parent was killed ran its statement for ever (review40, review41).
// Needs root (setcap, chown, and a user to run as) and util-linux's setpriv.

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(p => existsSync(p))
const SETCAP = ['/usr/sbin/setcap', '/sbin/setcap', '/usr/bin/setcap'].find(p => existsSync(p))
const NOBODY = '65534'

/** `dir` and everything under it readable by any user. */
function openToAll (dir: string): void {
  const walk = (p: string): void => {
    const s = statSync(p)
    chmodSync(p, s.mode | (s.isDirectory() ? 0o755 : 0o644))
    if (s.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e))
  }
  walk(dir)
}

/** A copy of this Node that any user may run, given `privilege` (false: the file system refuses it). */
function privilegedNode (privilege: (node: string) => boolean): string | undefined {
  const bin = tmpDir()
  chmodSync(bin, 0o755)
  const node = join(bin, 'node')
  copyFileSync(process.execPath, node)
  chmodSync(node, 0o755)
  return privilege(node) ? node : undefined
}

/** Whether process `pid` runs with effective IDs other than its real ones (a set-ID exec took effect). */
function setId (pid: number): boolean {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  const ids = (name: string): string[] => (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(s)?.[1] ?? '').split(/\s+/)
  return ['Uid', 'Gid'].some(n => ids(n)[0] !== ids(n)[1])
}

describe.runIf(process.platform === 'linux' && process.getuid?.() === 0 && SETPRIV !== undefined)('a sandbox started by a Node that gains privileges at its exec', () => {
  let chain: Chain | undefined
  afterAll(() => { chain?.close() })

  /** Run a sandbox's parent as nobody through `node` on a runaway statement, kill the parent, and wait for the sandbox to die. */
  async function orphanDies (node: string, wantSetId: boolean): Promise<void> {
    if (chain === undefined) {
      ({ chain } = await newTestChain({ key: fixtureKey('bob') }))
      const sandbox = new QuerySandbox(chain.dir.root)
      try { await rowsOf(chain, sandbox, 'SELECT 1') } finally { await sandbox.close() } // the mirror
      openToAll(chain.dir.root)
      chmodSync(dirname(chain.dir.root), 0o755)
    }
    const parent = spawn(SETPRIV as string, ['--reuid', NOBODY, '--regid', NOBODY, '--clear-groups', '--', node, ...await sandboxParentArgs(chain.dir.root, 'auto')], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    parent.stdout.on('data', (b: Buffer) => { out += b.toString() })
    onTestFinished(() => { parent.kill('SIGKILL') })
    const pid = Number(await waitFor(() => (out.includes('\n') ? out.trim() : undefined), { what: 'the sandbox pid' }))
    const stat = (): string[] | undefined => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ') } catch { return undefined } }
    const alive = (): boolean => { const s = stat(); return s !== undefined && s[0] !== 'Z' && s[0] !== 'X' }
    try {
      // A file system mounted nosuid ignores the set-ID bit: then there is nothing to test.
      if (wantSetId && parent.pid !== undefined && !setId(parent.pid)) return
      await waitFor(() => holdsMirror(pid), { what: 'the sandbox to be running the statement' })
      parent.kill('SIGKILL')
      await waitFor(() => !alive(), { what: 'the orphaned sandbox to die' })
    } finally {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
  }

  it.runIf(SETCAP !== undefined)('with file capabilities: the sandbox does not outlive a parent killed in the middle of a runaway statement (failed on 4a131e7: the signal was lost, no watchdog)', async () => {
    const node = privilegedNode(n => spawnSync(SETCAP as string, ['cap_net_bind_service+ep', n], { encoding: 'utf8' }).status === 0)
    if (node === undefined) return // a file system without security attributes: nothing to test here
    await orphanDies(node, false)
  }, 60_000)

  it('set-group-ID: the sandbox does not outlive a parent killed in the middle of a runaway statement (failed on f455b47: the signal was lost at the set-ID exec, no watchdog)', async () => {
    // Group root: any group other than nobody's makes the exec set-ID.
    const node = privilegedNode(n => { chownSync(n, 0, 0); chmodSync(n, 0o2755); return (statSync(n).mode & 0o2000) !== 0 })
    await orphanDies(node as string, true)
  }, 60_000)
})
