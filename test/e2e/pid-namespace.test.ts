import { describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { pidNamespace } from '../../src/util/index.js'
import { makeSqlite } from '../helpers/chain.js'
import { CLI, petal } from '../helpers/cli.js'
import { holdIn, IN_NEW_NAMESPACE, nsImport, nsLoader, runInNewNamespace, unsharePid, type Held } from '../helpers/pid-namespace.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

// A node or a pull in another PID namespace than the command that looks at its data directory (a
// CLI or a sidecar in a second container on the same volume): its node-state.json names a pid
// that here is another process or none. Until session 43 `petal status` said no node ran, and
// signimportblock sealed beside a pull. The holder here is the real code: node.lock taken by
// takeNodeLock, node-state.json written by writeNodeState / writePullState, in a process that is
// pid 1 of its own namespace (unshare) or, for the command run inside one, in this namespace.

function holderScript (root: string, pull: boolean): string {
  return `const { takeNodeLock, writeNodeState, writePullState, pidNamespace } = await import(${nsImport()})
const root = ${JSON.stringify(root)}; const lock = takeNodeLock(root); const now = new Date()
if (${pull}) await writePullState(root, { peerId: '12D3KooWpull', startedAt: now, height: 1, stage: 'sync' })
else await writeNodeState(root, { pid: process.pid, peer_id: '12D3KooWnode', role: 'signatory', listen: [], started_at: now.toISOString(), updated_at: now.toISOString(), sync: { state: 'idle', height: 1 }, peers: [], banned: 0 })
process.stdout.write(JSON.stringify({ pid: process.pid, ns: pidNamespace() }) + '\\n')
process.stdin.resume(); process.stdin.on('end', () => { lock.release(); process.exit(0) })`
}

async function newDir (): Promise<string> {
  const dir = join(tmpDir(), 'data')
  expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
  return dir
}

async function holding<T> (dir: string, o: { own: boolean, pull: boolean }, f: (h: Held) => Promise<T> | T): Promise<T> {
  const h = await holdIn(holderScript(dir, o.pull), { own: o.own })
  try {
    return await f(h)
  } finally {
    await h.stop()
  }
}

describe.runIf(unsharePid())('a node in another PID namespace', () => {
  it('petal status names it from outside, by the kernel\'s holder of node.lock (failed on 486eeac: "not running")', async () => {
    const dir = await newDir()
    await holding(dir, { own: true, pull: false }, async h => {
      expect(h.said.pid).toBe(1)
      expect(h.said.ns).not.toBe(pidNamespace())
      expect(JSON.parse(readFileSync(join(dir, 'node-state.json'), 'utf8'))).toMatchObject({ pid: 1, pid_ns: h.said.ns })
      const j = await petal(['--dir', dir, '--json', 'status'])
      expect(j.code, j.stderr).toBe(0)
      expect(JSON.parse(j.stdout).node).toMatchObject({ running: true, other_pid_ns: true, ns_pid: 1, pid: h.here, pid_ns: h.said.ns, role: 'signatory', peer_id: '12D3KooWnode' })
      const t = await petal(['--dir', dir, 'status'])
      expect(t.stdout).toContain(`node        a node holds this directory from another PID namespace (pid 1 there, ${h.here} here) as signatory, peer id 12D3KooWnode`)
      // Another node here is refused with the pid that names it here.
      const run = await petal(['--dir', dir, 'run', '--http', 'off', '--listen', '/ip4/127.0.0.1/tcp/0'])
      expect(run.code).not.toBe(0)
      expect(run.stderr).toContain(`a node (pid 1 in another PID namespace, ${h.here} here) is already running on ${dir}`)
      expect(run.stderr).toContain(`kill ${h.here}`)
    })
  })

  it('petal status inside a namespace of its own names a node of this one, whose pid it cannot see (failed on 486eeac: "not running")', async () => {
    const dir = await newDir()
    await holding(dir, { own: false, pull: false }, h => {
      const r = runInNewNamespace([process.execPath, CLI, '--dir', dir, '--json', 'status'])
      expect(r.code, r.stderr).toBe(0)
      const node = JSON.parse(r.stdout).node
      expect(node).toMatchObject({ running: true, other_pid_ns: true, ns_pid: h.here, pid_ns: pidNamespace(), role: 'signatory' })
      // No pid here names it: none is given, for a script to kill.
      expect(node.pid).toBeUndefined()
      const t = runInNewNamespace([process.execPath, CLI, '--dir', dir, 'status'])
      expect(t.stdout).toContain(`node        a node holds this directory from another PID namespace (pid ${h.here} there) as signatory`)
      // Another node there is refused naming it, and no pid of that namespace is given to kill.
      const run = runInNewNamespace([process.execPath, CLI, '--dir', dir, 'run', '--http', 'off', '--listen', '/ip4/127.0.0.1/tcp/0'])
      expect(run.code).not.toBe(0)
      expect(run.stderr).toContain(`a node (pid ${h.here} in another PID namespace) is already running on ${dir}`)
      expect(run.stderr).toContain(`\`kill ${h.here}\` in its PID namespace`)
    })
  })
})

describe.runIf(unsharePid())('a node and petal status in one PID namespace without its own /proc', () => {
  // \`unshare --pid --fork\` without --mount-proc: /proc and its /proc/locks name the parent
  // namespace's pids, process.kill this one's. The node's own pid was not among node.lock's
  // holders as /proc/locks listed them, and status said no node ran.
  it('petal status names the node (failed on 486eeac: "not running")', async () => {
    const dir = await newDir()
    const ready = join(tmpDir(), 'ready')
    // The interval refers to the lock: a module's top-level binding no closure refers to is
    // collected, and better-sqlite3's connection with it, releasing node.lock (status then said
    // "not running" in a loaded run).
    const holder = holderScript(dir, false).replace("process.stdin.resume(); process.stdin.on('end', () => { lock.release(); process.exit(0) })", 'setInterval(() => { void lock }, 1000)')
    const sh = `"$0" ${nsLoader().join(' ')} --input-type=module -e "$1" > "$2" & while [ ! -s "$2" ]; do sleep 0.05; done; "$0" "$3" --dir "$4" --json status; kill $!`
    const r = spawnSync('unshare', ['--pid', '--fork', 'sh', '-c', sh, process.execPath, holder, ready, CLI, dir], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const said = JSON.parse(readFileSync(ready, 'utf8')) as { pid: number, ns: string }
    expect(said.ns).not.toBe(pidNamespace())
    expect(JSON.parse(r.stdout).node).toMatchObject({ running: true, pid: said.pid, pid_ns: said.ns, role: 'signatory' })
  })
})

describe.runIf(unsharePid() && spawnSync('nsenter', ['--version']).status === 0)('petal status with the /proc of a namespace it is not in', () => {
  // `nsenter --mount` into a container from outside it (its files, its /proc): /proc lists the
  // container's processes and not this one (no /proc/self), so this process cannot read its own
  // namespace. Until review44 it took /proc as its own: node-state.json's pid 1 (the container's
  // node) was alive here (this namespace's init) and the holder /proc/locks listed, so status
  // gave `"pid": 1` to kill, and ALREADY_RUNNING's hint said `kill 1`.
  it('names the node as of another namespace, with no pid to kill here (failed before review44: pid 1)', async () => {
    const dir = await newDir()
    await holding(dir, { own: true, pull: false }, h => {
      const inside = (args: string[]): ReturnType<typeof spawnSync> => spawnSync('nsenter', [`--mount=/proc/${h.here}/ns/mnt`, process.execPath, CLI, '--dir', dir, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
      const probe = spawnSync('nsenter', [`--mount=/proc/${h.here}/ns/mnt`, 'readlink', '/proc/self'], { encoding: 'utf8' })
      expect(probe.status).not.toBe(0) // the premise: /proc there does not list this namespace's processes
      const j = inside(['--json', 'status'])
      expect(j.status, String(j.stderr)).toBe(0)
      const node = JSON.parse(String(j.stdout)).node
      expect(node).toMatchObject({ running: true, other_pid_ns: true, ns_pid: 1, pid_ns: h.said.ns, role: 'signatory' })
      expect(node.pid).toBeUndefined()
      const run = inside(['run', '--http', 'off', '--listen', '/ip4/127.0.0.1/tcp/0'])
      expect(run.status).not.toBe(0)
      expect(String(run.stderr)).toContain(`a node (pid 1 in another PID namespace) is already running on ${dir}`)
      expect(String(run.stderr)).toContain('`kill 1` in its PID namespace')
    })
  })
})

describe.runIf(unsharePid())('a pull in another PID namespace', () => {
  it('keeps signimportblock from sealing beside it, from outside its namespace and from inside another (failed on 486eeac: the block was sealed)', async () => {
    const dir = await newDir()
    const data = makeSqlite(join(tmpDir(), 'a.db'), 5)
    await holding(dir, { own: true, pull: true }, async h => {
      const r = await petal(['--dir', dir, 'signimportblock', data])
      expect(r.code, r.stdout).not.toBe(0)
      expect(r.stderr).toContain(`a pull (pid 1 in another PID namespace, ${h.here} here) holds ${dir}`)
      const s = await petal(['--dir', dir, 'status'])
      expect(s.stdout).toContain(`node        a pull holds this directory from another PID namespace (pid 1 there, ${h.here} here)`)
    })
    await holding(dir, { own: false, pull: true }, h => {
      const r = runInNewNamespace([process.execPath, CLI, '--dir', dir, 'signimportblock', data])
      expect(r.code, r.stdout).not.toBe(0)
      expect(r.stderr).toContain(`a pull (pid ${h.here} in another PID namespace) holds ${dir}`)
    })
    const tip = JSON.parse((await petal(['--dir', dir, '--json', 'status'])).stdout)
    expect(tip).toMatchObject({ tip: { height: 0 }, node: { running: false } })
  })
})

describe.runIf(unsharePid())('a writer in another PID namespace, as --json errors name it', () => {
  // LOCK_TIMEOUT's `holder` (and INDEX_BUSY's, INDEX_CORRUPT's `rebuilder`) gave writer.json as
  // read: `"pid": 1`, the writer's pid in its own namespace, which here is init. Now shaped as
  // status --json's node: `pid` only where a pid here names it, `ns_pid` its pid there.
  it('LOCK_TIMEOUT gives its pid here, not its pid there (failed before review44: "pid": 1)', async () => {
    const dir = await newDir()
    const pause = join(tmpDir(), 'pause')
    const big = makeSqlite(join(tmpDir(), 'big.db'), 50)
    const writer = spawn(IN_NEW_NAMESPACE[0] ?? '', [...IN_NEW_NAMESPACE.slice(1), process.execPath, CLI, '--dir', dir, 'signimportblock', big], { env: { ...process.env, PETAL_PAUSE: 'sign-import:locked', PETAL_PAUSE_FILE: pause }, stdio: 'ignore' })
    const ended = new Promise<number | null>(resolve => { writer.on('close', code => { resolve(code) }) })
    try {
      await waitFor(() => existsSync(pause), { what: 'the writer in its namespace to hold the lock' })
      const here = Number(readFileSync(`/proc/${writer.pid ?? 0}/task/${writer.pid ?? 0}/children`, 'utf8').trim())
      const r = await petal(['--dir', dir, '--json', 'signimportblock', '--wait', '0.2', makeSqlite(join(tmpDir(), 'c.db'), 2)])
      expect(r.code, r.stderr).toBe(4)
      const holder = JSON.parse(r.stdout || r.stderr).error.holder
      expect(holder).toMatchObject({ pid: here, other_pid_ns: true, ns_pid: 1, work: 'signimportblock big.db' })
      expect(holder.pid_ns).not.toBe(pidNamespace())
    } finally {
      rmSync(pause, { force: true })
    }
    expect(await ended).toBe(0)
  })
})
