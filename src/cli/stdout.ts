// Standard output of the `petal` process (start.ts), written without Node's stream where that
// stream would only call write(2) (docs/performance.md, "Session 22: start-up").
import { fstatSync, writeSync } from 'node:fs'

/**
 * Where stdout is a file, a character device (a terminal, /dev/null) or a pipe, each string is
 * written to descriptor 1 at once, whole (a partial write is continued). process.stdout is not
 * created: for a file or /dev/null it is a stream around the same `fs.writeSync` and for a
 * terminal a blocking write, and either way it loads node:stream's modules (~7 M instructions and
 * ~100 fresh pages per start). A pipe whose reader is slow makes the write wait, as a C tool's does.
 *
 * The descriptor may be non-blocking (shared with a process that made it so): a write that would
 * block (EAGAIN) hands what is left, and everything after it, to Node's stream, which waits for
 * the reader in the event loop (`nodeStream()` then says what it still holds). Where stdout
 * is a socket (a Node parent's 'pipe', a service manager's journal) it is Node's stream from the
 * start, as before: a long-running node must not stall on a reader that does.
 */
export class Stdout {
  private stream: NodeJS.WriteStream | undefined
  private failed = false

  /** `onError`: an error of a write (EPIPE when the reader went away), once; later writes are dropped. */
  constructor (private readonly onError: (err: NodeJS.ErrnoException) => void) {
    if (!writesDirectly()) this.take()
  }

  write (s: string): void {
    if (this.failed) return
    if (this.stream !== undefined) { this.stream.write(s); return }
    let bytes: Buffer | undefined
    let at = 0
    try {
      at = writeSync(1, s)
      if (at === Buffer.byteLength(s)) return
      bytes = Buffer.from(s)
      while (at < bytes.length) at += writeSync(1, bytes, at, bytes.length - at)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') { this.fail(err as NodeJS.ErrnoException); return }
      this.take().write(bytes === undefined ? s : bytes.subarray(at))
    }
  }

  /** Node's stream, if it writes stdout (the descriptor is a socket, or a write would have blocked). */
  nodeStream (): NodeJS.WriteStream | undefined {
    return this.stream
  }

  /** Call `done` once everything written so far has been handed to the system. */
  flush (done: () => void): void {
    if (this.stream !== undefined) this.stream.write('', done)
    else done()
  }

  private take (): NodeJS.WriteStream {
    if (this.stream === undefined) {
      this.stream = process.stdout
      this.stream.on('error', (err: NodeJS.ErrnoException) => { this.fail(err) })
    }
    return this.stream
  }

  private fail (err: NodeJS.ErrnoException): void {
    if (this.failed) return
    this.failed = true
    this.onError(err)
  }
}

/** Whether descriptor 1 is a file, a character device or a pipe (not a socket, and open). */
function writesDirectly (): boolean {
  try {
    const st = fstatSync(1)
    return st.isFile() || st.isCharacterDevice() || st.isFIFO()
  } catch {
    return false
  }
}
