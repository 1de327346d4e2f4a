import { createReadStream, readFileSync, statSync, type Stats } from 'node:fs'
import { AbortError, errorCode, errorMessage } from '../util/index.js'
import { UsageError } from './output.js'

/** Small inputs (keys, endorsements, seals, JSON parameters, passphrases) are at most this long. */
export const MAX_SMALL_INPUT = 1 << 20

/**
 * Read a small file the user named: a regular file, or a stream such as `<(pass show petal)` or a
 * named pipe, read without blocking the event loop (Ctrl-C still works while it waits for a
 * writer) and cut off past `maxBytes` (an endless stream like /dev/zero is refused, not read
 * for ever). A directory, a socket or a missing file is a usage error with a hint.
 */
export async function readInputFile (path: string, what: string, signal: AbortSignal, maxBytes = MAX_SMALL_INPUT, tooLongHint = `give the ${what} itself (a small text file)`): Promise<Buffer> {
  let st: Stats
  try {
    st = statSync(path)
  } catch (err) {
    throw unreadable(err, path, what)
  }
  const tooLong = (): UsageError => new UsageError(`${what} ${path} is longer than ${maxBytes} bytes`, tooLongHint)
  if (st.isDirectory()) throw new UsageError(`${what} ${path} is a directory`, `give the ${what} file itself`)
  if (st.isFile()) {
    if (st.size > maxBytes) throw tooLong()
    try {
      return readFileSync(path)
    } catch (err) {
      throw unreadable(err, path, what)
    }
  }
  if (!st.isFIFO() && !st.isCharacterDevice()) throw new UsageError(`${what} ${path} is not a file or a pipe`, `give the ${what} file itself`)
  return await readCapped(createReadStream(path, { signal, highWaterMark: 64 * 1024 }), signal, maxBytes, tooLong, err => unreadable(err, path, what))
}

/**
 * Standard input in full, cut off past `maxBytes` like readInputFile (it may be a pipe, socket or
 * terminal). `onTerminal` runs first when it is a terminal, to tell the user how to end the input.
 */
export async function readStdin (signal: AbortSignal, maxBytes: number, tooLongHint: string, onTerminal?: () => void): Promise<Buffer> {
  const tooLong = (): UsageError => new UsageError(`standard input is longer than ${maxBytes} bytes`, tooLongHint)
  // A terminal or an idle pipe yields nothing until input or EOF, so the abort check inside the
  // loop never runs: Ctrl-C must end the wait itself, by destroying the stream.
  const stdin = process.stdin
  const stop = (): void => { stdin.destroy() }
  if (signal.aborted) throw new AbortError()
  if (stdin.isTTY) onTerminal?.()
  signal.addEventListener('abort', stop, { once: true })
  try {
    return await readCapped(stdin, signal, maxBytes, tooLong, err => new UsageError(`cannot read standard input: ${errorMessage(err)}`, 'check the command that feeds it, or give the input as a file'))
  } finally {
    signal.removeEventListener('abort', stop)
  }
}

async function readCapped (stream: AsyncIterable<unknown>, signal: AbortSignal, maxBytes: number, tooLong: () => UsageError, failed: (err: unknown) => UsageError): Promise<Buffer> {
  const parts: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of stream) {
      if (signal.aborted) throw new AbortError()
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
      size += b.length
      if (size > maxBytes) throw tooLong()
      parts.push(b)
    }
    // A stream destroyed on abort may end quietly: what was read so far is not the whole input.
    if (signal.aborted) throw new AbortError()
  } catch (err) {
    if (err instanceof UsageError || err instanceof AbortError) throw err
    if (signal.aborted) throw new AbortError()
    throw failed(err)
  }
  return Buffer.concat(parts)
}

function unreadable (err: unknown, path: string, what: string): UsageError {
  const code = errorCode(err)
  if (code === 'ENOENT') return new UsageError(`${what} ${path} does not exist`, 'check the path')
  if (code === 'EACCES' || code === 'EPERM') return new UsageError(`cannot read ${what} ${path}: permission denied`, 'run as a user who can read it, or copy it somewhere readable')
  if (code === 'ENOTDIR') return new UsageError(`${what} ${path} is not a path to a file (a part of it is not a directory)`, 'check the path')
  if (code === 'EISDIR') return new UsageError(`${what} ${path} is a directory`, `give the ${what} file itself`)
  return new UsageError(`cannot read ${what} ${path}: ${errorMessage(err)}`, `check the file (\`ls -l ${path}\`) and the disk it is on, then run the command again`)
}
