import { join } from 'node:path'
import { NodeLock } from '../storage/index.js'
import { lockHolders, processCommand, processStopped, resumeAdvice } from '../util/index.js'
import { NodeError } from './errors.js'
import { nodePid, readNodeState } from './state-file.js'

/**
 * node.lock of `root`, taken for a node's life or a pull's (its sync and its verify), waiting out
 * another command's look at it (NodeLock.LOOK_WAIT_MS); ALREADY_RUNNING when another process keeps
 * it, LOCK_HOLDER_STOPPED when the process keeping it is stopped and no node or pull says it is theirs.
 */
export function takeNodeLock (root: string): NodeLock {
  const lock = NodeLock.tryAcquire(root, 'node.lock', NodeLock.LOOK_WAIT_MS)
  if (lock !== undefined) return lock
  throw lockBusyError(root, false)
}

/**
 * node.lock of `root` (which exists), taken by a command that makes a chain there (init,
 * newchain, adopt-daisy, a new pull): two of them at once on one empty directory would each clear
 * it and write their own genesis and chainparams.json. Refused as takeNodeLock refuses when a node, a pull or a stopped
 * process holds it; DATA_DIR_BUSY when another process holds it while it makes a chain there.
 */
export function takeCreateLock (root: string): NodeLock {
  const lock = NodeLock.tryAcquire(root, 'node.lock', NodeLock.LOOK_WAIT_MS)
  if (lock !== undefined) return lock
  throw lockBusyError(root, true)
}

function lockBusyError (root: string, creating: boolean): NodeError {
  // Who holds it, where the kernel says (Linux). readNodeState believes node-state.json's pid only
  // if it is alive and holds the lock (a killed node's file: the holder may be a pull, or a look).
  const holders = lockHolders(join(root, 'node.lock'))?.filter(p => p !== process.pid)
  const live = readNodeState(root)
  const stopped = live === undefined ? holders?.find(processStopped) : undefined
  if (stopped !== undefined) {
    // A command stopped (Ctrl-Z) in the instant it looked at the lock holds it until it runs again:
    // waiting longer would not help, and it is no node.
    const cmd = processCommand(stopped)
    return new NodeError('LOCK_HOLDER_STOPPED', `process ${stopped}${cmd === undefined ? '' : ` (${cmd})`} holds node.lock of ${root} and is stopped`, {
      // Most likely a look; but a node or a pull stopped before it wrote node-state.json is named here too.
      hint: `${resumeAdvice(stopped)}, then run this command again; a node or a pull stopped as it started keeps node.lock once resumed: end that one`
    })
  }
  const named = holders?.[0]
  const cmd = named === undefined ? undefined : processCommand(named)
  if (creating && live === undefined) {
    // No node or pull says it is theirs, and the directory had no chain: another init, newchain or adopt-daisy.
    return new NodeError('DATA_DIR_BUSY', `another process (${named === undefined ? 'a petal init, newchain or adopt-daisy' : `pid ${named}${cmd === undefined ? '' : `: ${cmd}`}`}) holds node.lock of ${root} while it makes a chain there`, {
      hint: 'wait for it to end: `petal status` then shows the chain it made (if it made none, run this command again)'
    })
  }
  const other = named !== undefined ? `another process (pid ${named}${cmd === undefined ? '' : `: ${cmd}`}) holds node.lock of` : 'another process (a node or a pull) holds node.lock of'
  // A node or a pull stopped (Ctrl-Z) does nothing until resumed: waiting for it would not help.
  // Its pid is used here only where it names it here (`here`: one of another PID namespace may have none).
  const here = live?.here
  const halted = here !== undefined && processStopped(here)
  const who = live !== undefined ? `${live.pull === true ? 'a pull' : 'a node'} (${nodePid(live)}${halted ? ', stopped' : ''}) is already running on` : other
  const resume = halted ? `it is stopped: ${resumeAdvice(here)}; ` : ''
  const where = live?.other_boot === true ? 'on its host' : 'in its PID namespace: its container'
  const stop = live === undefined || halted ? '' : here !== undefined ? ` (Ctrl-C in its terminal, or \`kill ${here}\`), then run this command again` : ` (Ctrl-C in its terminal, or \`kill ${live.pid}\` ${where}), then run this command again`
  // Beside a pull nothing may seal (seal, signimportblock, reseal wait for its end).
  const hint = live?.pull === true ? `${resume}wait for the pull to end, or stop it (Ctrl-C; the same \`petal pull\` resumes it); status and query can run beside it` : `${resume}stop it first${stop}; other commands (status, signimportblock, …) can run beside it`
  return new NodeError('ALREADY_RUNNING', `${who} ${root}`, { hint })
}
