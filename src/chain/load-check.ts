// A load thread's checks of one block (load-worker.ts): the checks of a block that need nothing
// but its file (hash, structure, manifest) and its signatures against the keys the caller named.
import { closeSync, fstatSync, openSync } from 'node:fs'
import { MAP_MIN_BYTES, readBlockFile, type BlockHead } from '../block/index.js'
import { sha256FileSync, sha256Hex } from '../crypto/index.js'
import { readFullySync } from '../util/index.js'
import { checkExpectedHash, preverify, type CandidateFile, type Preverified, type SealVerdict } from './validate/index.js'

export interface LoadRequest {
  /** A private file in tmp/. */
  path: string
  seal: string
  expectedHash?: string
  /** The file's SHA-256 as its downloader computed it (not hashed again). */
  knownHash?: string
  /** The file's first bytes and size as its downloader wrote them (readBlockFile's `head`). */
  head?: BlockHead
  /** The caller's own download into its private tmp/, hashed as written or not (loadBlock decides): read once whole (and hashed from those bytes without `knownHash`), or through a memory map from MAP_MIN_BYTES. */
  ownDownload?: boolean
  maxBytes: number
  /** Signatories at the caller's tip (key id → hex SPKI): the signatures are checked with these. */
  keys: Record<string, string>
  /** The header's seal as the caller verified it (not verified again if it is this block's). */
  sealChecked?: SealVerdict
  /** Once checked, make the file durable and write its `.sig` beside it (placement's per-file flushes, off the main thread). */
  prepare?: boolean
  /** Once checked, write its `.sig` beside it, unflushed (a small block: the group's one syncfs flushes it; `sealWritten`). */
  writeSeal?: boolean
}
export interface LoadReply { hash: string, file: CandidateFile, verified?: Preverified, prepared?: boolean, sealWritten?: boolean }

/** Check one block. */
export async function checkLoad (r: LoadRequest): Promise<LoadReply> {
  const { path, seal, expectedHash, knownHash, head, ownDownload, maxBytes, keys, sealChecked } = r
  // A small block's head is its whole bytes, as the receive wrote them to the file (FetchedBlock's
  // `head`): checked from there, not read back from the page cache (docs/performance/catchup.md,
  // "Session 53: the load thread's reading again of a small block (catchup53)").
  const whole = ownDownload === true ? wholeHead(head) : undefined
  const bytes = whole ?? (ownDownload === true ? readOwnDownload(path, head?.size) : undefined)
  let file, hash
  try {
    // A download the transfer left unhashed (no `knownHash`) is hashed here from the very bytes
    // read whole for its checks (no second read), or else from its file; another hash is refused
    // before anything else runs (docs/performance/pull.md, "Session 51: the download's SHA-256 on the load thread (pull51)").
    hash = knownHash ?? (bytes !== undefined ? sha256Hex(bytes) : sha256FileSync(path))
    checkExpectedHash(hash, expectedHash)
    // The header is still checked on the first bytes the download wrote (`head`), as for a file.
    file = await readBlockFile(path, bytes === undefined ? { maxBytes, head, ownDownload } : { maxBytes, head: head ?? { bytes, size: bytes.length }, bytes })
  } finally {
    // Given back for the next block (the reply holds nothing of these bytes: SQLite's values and the roots are copies).
    if (bytes !== undefined && whole === undefined) ownBuf = Buffer.from(bytes.buffer)
  }
  // A verdict on the header's seal holds for the block only if the block is that header's. Only
  // what the caller uses crosses the thread boundary (CandidateFile, as verify's workers send):
  // the path, the SQLite header and the user tables' descriptions were half of each reply.
  return { hash, file: { size: file.size, header: file.header, keyOps: file.keyOps, tables: file.tables }, verified: preverify(file, hash, seal, keys, hash === expectedHash ? sealChecked : undefined) }
}

/** The head's bytes as a Buffer if they are the whole file (`size` of them), not a copy. */
function wholeHead (head: BlockHead | undefined): Buffer | undefined {
  if (head === undefined || head.size <= 0 || head.bytes.byteLength !== head.size) return undefined
  return Buffer.from(head.bytes.buffer, head.bytes.byteOffset, head.bytes.byteLength)
}

// This thread's buffer for own downloads read whole (readOwnDownload), grown to the largest such
// file it has read (< MAP_MIN_BYTES), kept for the next; taken while a check uses it.
let ownBuf: Buffer | undefined

/**
 * The whole file of an own download smaller than MAP_MIN_BYTES, read once (one whole read where
 * SQLite's checks made one `pread` per page and the manifest's page reader read the file again),
 * for readBlockFile's `bytes`: SQLite's checks then read these bytes in place (the held-bytes
 * addon, held-db.ts) and the manifest's rows are read from them, so every check runs over the
 * very bytes read. Undefined (the file is checked as a file, as before) for a larger file (mapped
 * by SQLite: a buffer that size per thread is not kept), when the file is not `size` bytes long,
 * or when it cannot be read here (the checks then report it as they would).
 */
export function readOwnDownload (path: string, size?: number): Buffer | undefined {
  if (size !== undefined && (size <= 0 || size >= MAP_MIN_BYTES)) return undefined
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return undefined
  }
  try {
    const n = size ?? fstatSync(fd).size
    if (n <= 0 || n >= MAP_MIN_BYTES) return undefined
    // Taken: a check that runs meanwhile (none on a load thread, which checks one block at a time) gets a buffer of its own.
    let buf = ownBuf
    ownBuf = undefined
    // At least 64 KiB: its own ArrayBuffer (Node's pool serves small ones), which the caller gives back whole.
    if (buf === undefined || buf.length < n + 1) buf = Buffer.allocUnsafe(Math.min(MAP_MIN_BYTES, Math.max(n + 1, 2 * (buf?.length ?? 0), 64 * 1024)))
    // One byte more than expected: a file that grew is not cut short.
    const got = readFullySync(fd, buf, n + 1, 0)
    if (got !== n) { ownBuf = buf; return undefined }
    return buf.subarray(0, n)
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}
