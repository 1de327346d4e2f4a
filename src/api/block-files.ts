import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { dataFileExists, StorageError, systemFailure, type BlockRecord, type DataDir } from '../storage/index.js'

const VERIFIED_MAX = 4096

/**
 * Opens block files for serving, proving each is the block the index names. A concurrent reorg
 * may be moving a block between its height's path and forks/ (and putting another block in its
 * slot), so the file is opened first and its identity checked through the open descriptor: the
 * first time, by hashing it; after that, by its inode, size and times (a block file is never
 * modified in place, only renamed, which keeps them). The descriptor then keeps serving that
 * file whatever is renamed meanwhile.
 */
export class BlockFiles {
  /** hash → file identity already proven to hash to it */
  private readonly verified = new Map<string, string>()
  private readonly hashing = new Map<string, Promise<string>>()

  constructor (private readonly dir: DataDir) {}

  async open (b: BlockRecord): Promise<{ fh: FileHandle, size: number }> {
    // A read the disk failed (EIO) is the machine's, not a missing file (mend34: it was
    // BLOCK_FILE_MISSING, "run verify").
    let failed: StorageError | undefined
    for (const path of b.canonical ? this.dir.wherever(b.height, b.hash) : [this.dir.forkPath(b.hash), this.dir.blockPath(b.height), this.dir.forkPath(b.hash)]) {
      let fh: FileHandle
      try {
        // lstat first: opening a named pipe would hold a thread-pool thread until someone writes.
        if (!dataFileExists(path, 'block file')) continue
        fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
      } catch (err) {
        failed = machineFailure(err) ?? failed
        continue
      }
      try {
        const st = await fh.stat()
        if (st.isFile() && st.size === b.size) {
          const stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.birthtimeMs}`
          if (this.verified.get(b.hash) === stamp || await this.hashOnce(fh, stamp) === b.hash) {
            this.remember(b.hash, stamp)
            return { fh, size: st.size }
          }
        }
      } catch (err) {
        failed = machineFailure(err) ?? failed
      }
      await fh.close()
    }
    if (failed !== undefined) throw failed
    throw new StorageError('BLOCK_FILE_MISSING', `the file of block ${b.height} (${b.hash.slice(0, 12)}…) is missing or does not match the index`, {
      hint: 'run `petal verify` on the data directory'
    })
  }

  private async hashOnce (fh: FileHandle, stamp: string): Promise<string> {
    let p = this.hashing.get(stamp)
    if (p === undefined) {
      p = (async () => {
        const h = createHash('sha256')
        await pipeline(fh.createReadStream({ start: 0, autoClose: false }), h)
        return h.digest('hex')
      })()
      this.hashing.set(stamp, p)
      void p.finally(() => { this.hashing.delete(stamp) }).catch(() => {})
    }
    return await p
  }

  private remember (hash: string, stamp: string): void {
    this.verified.delete(hash)
    this.verified.set(hash, stamp)
    if (this.verified.size > VERIFIED_MAX) {
      const oldest = this.verified.keys().next()
      if (oldest.done !== true) this.verified.delete(oldest.value)
    }
  }
}

/** A failure of the disk or the system reading a block file (IO_ERROR, …), or undefined (a missing file, a mismatch). */
function machineFailure (err: unknown): StorageError | undefined {
  const f = systemFailure(err)
  return f === undefined || f.code === 'PATH_CONFLICT' ? undefined : f
}

export interface ByteRange { start: number, end: number }

/**
 * The single byte range a `Range` header asks for (RFC 9110 §14): undefined to send the whole
 * file (no header, a header we ignore such as several ranges or another unit), 'unsatisfiable'
 * for a range that starts past the end.
 */
export function parseRange (header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header)
  if (m === null) return undefined
  const [, a = '', z = ''] = m
  if (a === '' && z === '') return undefined
  if (a === '') {
    const n = Number(z)
    if (n === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(a)
  const end = z === '' ? size - 1 : Math.min(Number(z), size - 1)
  if (z !== '' && Number(z) < start) return undefined
  if (start >= size) return 'unsatisfiable'
  return { start, end }
}
