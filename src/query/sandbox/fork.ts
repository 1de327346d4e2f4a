import type * as ChildProcesses from 'node:child_process'
import type * as Fs from 'node:fs'
import type { Socket } from 'node:net'
import { SandboxChannel } from './channel.js'
import { offerPrestartedSandbox, type ForkedSandbox } from './prestart.js'
import { PARENT_DEATH_ARG, type ChildMessage } from './protocol.js'

// Loaded on the first fork, not when this file loads: the CLI's router carries this file for
// `petal query`, and every other command would pay for node:child_process (and net) at start.
let childProcesses: typeof ChildProcesses | undefined
function loadChildProcesses (): typeof ChildProcesses {
  childProcesses ??= process.getBuiltinModule('node:child_process')
  return childProcesses
}

/** Where util-linux's setpriv may be: it execs a program with a parent-death signal set. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv']
let setprivPath: string | null | undefined

/**
 * setpriv, if this is Linux and one that takes --pdeathsig is installed (util-linux 2.33 on, every
 * Debian since 10): the sandbox then runs under `setpriv --pdeathsig KILL`, so that the kernel kills it with SIGKILL when its
 * parent dies, without a watchdog thread in the sandbox (a second V8 instance: ~17 M instructions
 * on the statement's path and ~30-100 M beside it; docs/performance/query.md, "Session 39: petal
 * query"). Elsewhere the watchdog thread does it, and where Node's exec would clear the signal
 * (execGainsPrivileges).
 */
function setpriv (): string | null {
  if (setprivPath !== undefined) return setprivPath
  setprivPath = null
  if (process.platform !== 'linux') return setprivPath
  const fs = process.getBuiltinModule('node:fs')
  if (execGainsPrivileges(fs.readFileSync)) return setprivPath
  for (const p of SETPRIV) {
    // One that takes --pdeathsig (util-linux's since 2.33; RHEL 8 has 2.32): under another the
    // sandbox never started (review40). Its option table names it.
    try { fs.accessSync(p, fs.constants.X_OK); if (holds(fs, p, 'pdeathsig')) { setprivPath = p; break } } catch {}
  }
  return setprivPath
}

/**
 * Whether an exec of this Node by setpriv gives the process privileges setpriv did not have: the
 * kernel then clears the parent-death signal at that exec (commit_creds), so the sandbox needs
 * its watchdog. A Node binary with file capabilities (`setcap cap_net_bind_service+ep`, to serve
 * on a port under 1024) run by a user other than root: this process holds capabilities and no
 * ambient ones (an exec of a file with capabilities clears them); or a set-user-ID or
 * set-group-ID Node (review41: the group was not compared). Where /proc cannot say, the watchdog
 * too (review40).
 */
function execGainsPrivileges (read: (path: string, encoding: 'utf8') => string): boolean {
  try {
    const s = read('/proc/self/status', 'utf8')
    const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(s)?.[1]?.trim() ?? ''
    // A set-ID exec (the new effective ID not the real one: AT_SECURE) clears it too, for a group
    // as for a user (begin_new_exec): a set-group-ID Node, or one started with a foreign group.
    for (const ids of ['Uid', 'Gid']) {
      const [real, effective] = field(ids).split(/\s+/)
      if (real === undefined || real !== effective) return true
    }
    const effective = field('Uid').split(/\s+/)[1]
    return effective !== '0' && BigInt(`0x${field('CapPrm')}`) !== 0n && BigInt(`0x${field('CapAmb')}`) === 0n
  } catch {
    return true
  }
}

/** Whether the file at `path` (a program of ~80 KB) holds `text`: one read into a buffer of its size (readFileSync took 4x the CPU). */
function holds (fs: typeof Fs, path: string, text: string): boolean {
  const fd = fs.openSync(path, 'r')
  try {
    const b = Buffer.allocUnsafe(Math.min(fs.fstatSync(fd).size, 4 << 20))
    return b.subarray(0, fs.readSync(fd, b, 0, b.length, 0)).includes(text)
  } finally {
    fs.closeSync(fd)
  }
}

/** How the sandbox learns that its parent died: the kernel's signal, or a watchdog thread of its own (tests pick). */
export type ParentDeath = 'auto' | 'watchdog'

/**
 * Start the sandbox's entry `file` (a Node script), noting its ready message whenever it comes.
 * `env`: the process's environment (default: this process's). Its descriptor 3 is a socket to
 * this process carrying framed messages (wire.ts), not Node's IPC channel.
 */
export function forkSandbox (file: string, execArgv: string[], env?: NodeJS.ProcessEnv, parentDeath: ParentDeath = 'auto'): ForkedSandbox {
  const sp = parentDeath === 'auto' ? setpriv() : null
  // setpriv sets the signal and execs Node in the same process (the pid the parent kills and
  // reaps). The signal is sent when the thread that forked ends: this one, the event loop's.
  const node = [...execArgv, file]
  const child = sp === null
    ? loadChildProcesses().spawn(process.execPath, node, { env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] })
    : loadChildProcesses().spawn(sp, ['--pdeathsig', 'KILL', '--', process.execPath, ...node, `${PARENT_DEATH_ARG}${process.pid}`], { env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] })
  const channel = new SandboxChannel(child.stdio[3] as Socket, () => { child.kill('SIGKILL') })
  const forked: ForkedSandbox = { child, channel, ready: false }
  const onMessage = (m: ChildMessage): void => {
    if (m.type === 'ready') {
      forked.ready = true
      channel.off(onMessage)
    }
  }
  channel.on(onMessage)
  child.on('error', () => {})
  return forked
}

/**
 * Fork the sandbox now and leave it for the command's QuerySandbox to take. It keeps nothing
 * alive; the CLI kills and reaps it if no command took it (`petal query --help`, a usage error),
 * and it is killed at exit in any case.
 */
export function prestartQuerySandbox (file: string, env?: NodeJS.ProcessEnv): ForkedSandbox {
  const forked = forkSandbox(file, [], env)
  forked.child.unref()
  forked.channel.unref()
  const stderr = forked.child.stderr
  if (stderr !== null && 'unref' in stderr && typeof stderr.unref === 'function') stderr.unref()
  offerPrestartedSandbox(forked)
  return forked
}
