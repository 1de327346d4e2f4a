import { PetalError, registerErrorClass, type CodeDoc } from '../util/index.js'

export const NODE_ERROR_CODES = ['NO_SIGNING_KEY', 'ALREADY_RUNNING', 'LOCK_HOLDER_STOPPED', 'DATA_DIR_BUSY'] as const

export type NodeErrorCode = typeof NODE_ERROR_CODES[number]

/** `details` of each code: none. */
export type NodeErrorDetails = Record<NodeErrorCode, Record<never, never>>

/** The running node cannot do what was asked. */
export class NodeError<C extends NodeErrorCode = NodeErrorCode> extends PetalError<C, NodeErrorDetails[C]> {
  static readonly codes = NODE_ERROR_CODES
}

function nodeErrorDocs (): Readonly<Record<NodeErrorCode, CodeDoc>> {
  return {
    NO_SIGNING_KEY: { meaning: 'the node has no signing key, so it cannot seal a block', hint: 'create one with `petal keygen` and select it with --key' },
    ALREADY_RUNNING: { meaning: 'a node or a pull already holds this data directory (node.lock)', hint: 'stop it first (Ctrl-C in its terminal, or `kill PID`), then run the command again; other commands (status, signimportblock, …) can run beside it' },
    DATA_DIR_BUSY: { meaning: 'another process holds node.lock of the empty data directory while it makes a chain there (a `petal init`, `newchain` or `adopt-daisy` at the same time): two at once would each write their own genesis', hint: 'wait for it to end: `petal status` then shows the chain it made (if it made none, run this command again)' },
    LOCK_HOLDER_STOPPED: { meaning: 'node.lock is held by a stopped process (Ctrl-Z, SIGSTOP, a debugger) that no running node or pull names: a command stopped while it looked at the lock, which it holds for that instant', hint: 'resume that process (`fg` in its shell, or `kill -CONT PID`; the message names it) or end it (`kill PID; kill -CONT PID`: stopped, it acts on no signal until resumed), then run the command again; one a debugger holds ignores SIGCONT: continue it there, or `kill -9 PID`; a node or a pull stopped as it started keeps node.lock once resumed: end that one' }
  }
}

registerErrorClass(NodeError, 'the node cannot start or do what was asked', nodeErrorDocs)
