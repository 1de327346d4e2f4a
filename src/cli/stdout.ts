// Standard output of the `petal` process (start.ts), written without Node's stream where that
// stream would only call write(2) (docs/performance/startup.md, "Session 22: start-up").
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs'

/**
 * Where stdout is a file, a character device (a terminal, /dev/null) or a pipe, each string is
 * written at once, whole (a partial write is continued). process.stdout is not created: for a
 * file or /dev/null it is a stream around the same `fs.writeSync` and for a terminal a blocking
 * write, and either way it loads node:stream's modules (~7 M instructions and ~100 fresh pages
 * per start).
 *
 * A pipe is written through a descriptor of its own, opened non-blocking (Linux's
 * /proc/self/fd/1 opens the pipe again, so the flag is not the shell's or the other writers'):
 * a blocking write into the pipe of a reader that stopped reading waited in the kernel, where
 * SIGINT and SIGTERM (whose handlers Node installs with SA_RESTART) could not reach the command:
 * neither a second Ctrl-C nor `kill` ended it. A write that would block (EAGAIN) hands what is
 * left, and everything after it, to Node's stream, which waits for the reader in the event loop
 * (`nodeStream()` then says what it still holds). Where the pipe cannot be opened so (no /proc,
 * another user's pipe), where stdout is a socket (a Node parent's 'pipe', a service manager's
 * journal), it is Node's stream from the start, as before session 22.
 */
export class Stdout {
  private stream: NodeJS.WriteStream | undefined
  private failed = false
  /** The descriptor written directly: 1, or the pipe's own non-blocking one; undefined once Node's stream writes. */
  private fd: number | undefined

  /** `onError`: an error of a write (EPIPE when the reader went away), once; later writes are dropped. */
  constructor (private readonly onError: (err: NodeJS.ErrnoException) => void) {
    this.fd = directDescriptor()
    if (this.fd === undefined) this.take()
  }

  write (s: string): void {
    if (this.failed) return
    if (this.stream !== undefined || this.fd === undefined) { this.take().write(s); return }
    const fd = this.fd
    let bytes: Buffer | undefined
    let at = 0
    try {
      at = writeSync(fd, s)
      if (at === Buffer.byteLength(s)) return
      bytes = Buffer.from(s)
      while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') { this.fail(err as NodeJS.ErrnoException); return }
      this.take().write(bytes === undefined ? s : bytes.subarray(at))
    }
  }

  /**
   * Undefined when stdout takes more now; else a promise that settles once Node's stream has
   * drained (or failed: `onError` then ends the command). A command writing a long answer awaits
   * it between chunks, so a reader that stops reading stops the writer, not the memory: writes
   * after an EAGAIN go to Node's stream, which holds whatever it is given.
   */
  backlog (): Promise<void> | undefined {
    const st = this.stream
    if (st === undefined || this.failed || !st.writableNeedDrain) return undefined
    return new Promise<void>(resolve => {
      const done = (): void => { st.off('drain', done); st.off('error', done); st.off('close', done); resolve() }
      st.on('drain', done)
      st.on('error', done)
      st.on('close', done)
    })
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
      if (this.fd !== undefined && this.fd !== 1) {
        try { closeSync(this.fd) } catch {}
      }
      this.fd = undefined
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

/**
 * The descriptor to write stdout with directly: 1 for a file or a character device; for a pipe,
 * a non-blocking descriptor of the same pipe; undefined for anything else (a socket, a pipe that
 * cannot be opened again, no descriptor 1), which Node's stream writes.
 */
function directDescriptor (): number | undefined {
  let st
  try {
    st = fstatSync(1)
  } catch {
    return undefined
  }
  if (st.isFile() || st.isCharacterDevice()) return 1
  if (!st.isFIFO()) return undefined
  let fd: number | undefined
  try {
    fd = openSync('/proc/self/fd/1', constants.O_WRONLY | constants.O_NONBLOCK)
    // The same pipe, not whatever a /proc that is not procfs holds at that path.
    const own = fstatSync(fd)
    if (own.isFIFO() && own.dev === st.dev && own.ino === st.ino) return fd
  } catch {
    // ENXIO: no reader (Node's stream then says EPIPE); ENOENT: no /proc; EACCES: another user's pipe.
  }
  if (fd !== undefined) closeSync(fd)
  return undefined
}
