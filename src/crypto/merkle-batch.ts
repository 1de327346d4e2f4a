import { MerkleBuilder, prefixedLeafHash } from './merkle.js'
import { padMessage, paddedSize, sha256OverMemory, sha256Wasm, SHA256_WASM_FREE, type Sha256Wasm, type WasmMemory } from './sha256-wasm.js'
import { nativeSha256 } from './sha256-native.js'

// Leaves hashed per call; a power of two, so a full batch folds into one perfect subtree.
const BATCH = 4096
const OUT = SHA256_WASM_FREE
/** WebAssembly memory a caller may use (a row encoder's scratch: MERKLE_SCRATCH_BYTES from here). */
export const MERKLE_SCRATCH = OUT + BATCH * 32
export const MERKLE_SCRATCH_BYTES = 128 << 10
// Where leaves are written: in an ordinary buffer (before WebAssembly is in use), in its memory.
const IN = MERKLE_SCRATCH
const IN_WASM = MERKLE_SCRATCH + MERKLE_SCRATCH_BYTES
// A batch is hashed once its input passes this many bytes, so memory stays small whatever the rows.
const FLUSH_BYTES = 1 << 20
const PAGE = 65536
// Fewer leaves than this in the first flush (a small table) are hashed with node:crypto: cheaper
// than the first WebAssembly instance of a thread (its code is generated, ~20-100 ms)...
const SMALL = 1024
// ...until this thread has hashed this many leaves that way: then it is one that checks block after
// block (sync's load threads), and its interior nodes, a node:crypto call each (~1 µs, against
// ~0.2 µs four at a time in WebAssembly), pay for the instance within a few dozen 1 MB tables.
const WARM_LEAVES = 1 << 15
let cryptoLeaves = 0

// The WebAssembly instance a finished batch leaves for the next one in this thread: a table's
// batch is built and finished synchronously, so one is enough, and instantiating (and growing the
// memory of) one per table or chunk cost allocations and garbage collection per block. One for
// each hasher (a memory hashed natively, a SHA-256 module's), as PETAL_NATIVE_SHA256 chooses.
let spareWasm: Sha256Wasm | undefined
let spareNative: Sha256Wasm | undefined
const spareOf = (native: boolean): Sha256Wasm | undefined => native ? spareNative : spareWasm
// Likewise the ordinary buffer leaves are written to before WebAssembly is in use: allocated and
// zero-filled per table, then doubled up to FLUSH_BYTES as the leaves came, it cost a table of 1 MB
// of rows more than hashing them (allocation, copies, garbage collection). Kept only up to
// SPARE_BYTES_MAX (a table with a row of hundreds of MB grows it that far once).
let spareBytes: Buffer | undefined
const SPARE_BYTES_MAX = IN + 4 * FLUSH_BYTES

/** The buffer a finished batch of this thread left, or a new one. */
function takeBytes (): Buffer {
  const b = spareBytes
  spareBytes = undefined
  return b ?? Buffer.alloc(IN + 16384)
}

/** Keep `b` for this thread's next batch (the larger of two, up to SPARE_BYTES_MAX). */
function giveBytes (b: Buffer): void {
  if (b.length <= SPARE_BYTES_MAX && b.length > (spareBytes?.length ?? 0)) spareBytes = b
}

/**
 * An RFC 6962 tree head over leaves whose data the caller writes straight into WebAssembly memory,
 * hashed thousands at a time (sha256-wasm.ts): the same root as pushing `leafHash(data)` into a
 * MerkleBuilder one by one, at a fraction of the cost per leaf. Usage per leaf: `at = begin(max)`,
 * write at most `max` bytes at `bytes[at…]` (the leaf data, starting with its 0x00 prefix), then
 * `commit(len)`. `bytes` may change on `begin`: read it after. Until the first batch large enough
 * to be worth it, `bytes` is an ordinary buffer and no WebAssembly is instantiated.
 */
export class MerkleBatch {
  private wasm: Sha256Wasm | undefined
  private readonly tree = new MerkleBuilder()
  /** Where leaves are written: WebAssembly memory once in use (replaced when it grows: read it after `begin`). */
  bytes: Buffer
  private view: DataView
  private in = IN
  private pos = IN
  private pending = 0
  private capacity_: number

  constructor () {
    const spare = spareOf(nativeSha256() !== undefined)
    this.bytes = spare === undefined ? takeBytes() : Buffer.alloc(0)
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength)
    this.capacity_ = this.bytes.length
    if (spare !== undefined) this.start()
  }

  /**
   * Whether leaves are written in WebAssembly memory (from the start when this thread had an
   * instance ready), hashed there by the WebAssembly module or the native hasher.
   */
  get inWasm (): boolean { return this.wasm !== undefined }

  private reserve (end: number): void {
    if (end <= this.capacity_) return
    if (this.wasm === undefined) {
      // Uninitialised: every byte a flush reads (framed leaves, from IN to pos) is written first.
      const next = Buffer.allocUnsafe(Math.max(end, 2 * this.capacity_))
      this.bytes.copy(next, IN, IN, this.pos)
      this.use(next)
      return
    }
    const have = this.wasm.memory.buffer.byteLength
    if (end > have) this.wasm.memory.grow(Math.ceil((end - have) / PAGE))
    this.use(Buffer.from(this.wasm.memory.buffer))
  }

  private use (b: Buffer): void {
    this.bytes = b
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength)
    this.capacity_ = b.length
  }

  /** Move to WebAssembly: the leaves written so far are copied into its memory. */
  private start (): Sha256Wasm {
    const native = nativeSha256()
    let wasm: Sha256Wasm
    if (native === undefined) {
      wasm = spareWasm ?? sha256Wasm()
      spareWasm = undefined
    } else {
      wasm = spareNative ?? sha256OverMemory(native)
      spareNative = undefined
    }
    const want = IN_WASM + Math.max(this.pos - IN, FLUSH_BYTES) + 4096
    wasm.memory.grow(Math.ceil(Math.max(0, want - wasm.memory.buffer.byteLength) / PAGE))
    const mem = Buffer.from(wasm.memory.buffer)
    if (this.pos > IN) this.bytes.copy(mem, IN_WASM, IN, this.pos)
    giveBytes(this.bytes)
    this.pos += IN_WASM - IN
    this.in = IN_WASM
    this.wasm = wasm
    this.use(mem)
    return wasm
  }

  /**
   * WebAssembly memory, from now on where leaves are written (for an encoder that writes framed
   * leaves itself: see `end`, `commitFramed`). Its MERKLE_SCRATCH_BYTES at MERKLE_SCRATCH are the
   * caller's.
   */
  wasmMemory (): WasmMemory {
    return (this.wasm ?? this.start()).memory
  }

  /** Where the next framed leaf goes in `bytes`. */
  get end (): number { return this.pos }
  /** Leaves that may be framed before `commitFramed`. */
  get leavesLeft (): number { return BATCH - this.pending }
  /** Once framed leaves reach this offset, commit them (the batch is then hashed). */
  get softEnd (): number { return this.in + FLUSH_BYTES }
  /** No framed leaf may go past this offset (the size of `bytes`). */
  get capacity (): number { return this.capacity_ }

  /**
   * `n` leaves were written framed and padded (as `padMessage` frames a message) from the old
   * `end` up to `end`; at most `leavesLeft`. Returns whether the batch was hashed (its memory is
   * then free again).
   */
  commitFramed (n: number, end: number): boolean {
    if (n === 0) return false
    this.pending += n
    this.pos = end
    if (this.pending < BATCH && this.pos - this.in < FLUSH_BYTES) return false
    this.flush()
    return true
  }

  /** Make room for a leaf of up to `max` bytes; returns where its data goes in `bytes`. */
  begin (max: number): number {
    this.reserve(this.pos + paddedSize(max))
    return this.pos + 4
  }

  /** The leaf written at the offset `begin` returned is `len` bytes long. */
  commit (len: number): void {
    if (len > 200) {
      this.pos = padMessage(this.bytes, this.view, this.pos, len)
    } else {
      // padMessage inlined for short leaves (the common case): no native call per leaf.
      const m = this.bytes
      const at = this.pos
      const blocks = ((len + 8) >>> 6) + 1
      const end = at + 4 + blocks * 64
      m[at] = blocks
      m[at + 1] = 0
      m[at + 2] = 0
      m[at + 3] = 0
      let p = at + 4 + len
      m[p++] = 0x80
      while (p < end - 4) m[p++] = 0
      const bits = len * 8
      m[end - 4] = bits >>> 24
      m[end - 3] = (bits >>> 16) & 0xff
      m[end - 2] = (bits >>> 8) & 0xff
      m[end - 1] = bits & 0xff
      this.pos = end
    }
    if (++this.pending === BATCH || this.pos - this.in >= FLUSH_BYTES) this.flush()
  }

  /** Leaves committed so far. */
  get size (): number { return this.tree.size + this.pending }

  private flush (): void {
    const m = this.pending
    if (m === 0) return
    // The native hasher (sha256-native.ts) hashes the leaves where they are, in any buffer: no
    // WebAssembly instance for a table whose rows the JavaScript encoder wrote.
    const native = this.wasm === undefined ? nativeSha256() : undefined
    if (native !== undefined) {
      const bytes = this.bytes
      native.leaves(bytes, IN, m, OUT)
      this.pending = 0
      this.pos = IN
      this.fold(m, (at, n) => { native.pairs(bytes, at, n, at) })
      return
    }
    if (this.wasm === undefined && m < SMALL && spareWasm === undefined && cryptoLeaves < WARM_LEAVES) {
      cryptoLeaves += m
      // Each framed leaf: its block count, the data, padding ending in the data's length in bits.
      let at = IN
      for (let i = 0; i < m; i++) {
        const end = at + 4 + this.view.getUint32(at, true) * 64
        const len = this.view.getUint32(end - 4, false) / 8 + this.view.getUint32(end - 8, false) * 0x20000000
        this.tree.push(prefixedLeafHash(this.bytes.subarray(at + 4, at + 4 + len)))
        at = end
      }
      this.pending = 0
      this.pos = IN
      return
    }
    const wasm = this.wasm ?? this.start()
    wasm.leaves(this.in, m, OUT)
    this.pending = 0
    this.pos = this.in
    this.fold(m, (at, n) => { wasm.pairs(at, n, at) })
  }

  /** Push the `m` digests at OUT into the tree; `pairs(at, n)` hashes n pairs at `at` in place. */
  private fold (m: number, pairs: (at: number, n: number) => void): void {
    // Fold the digests into perfect subtrees aligned on the leaves before them: each run of 2^j
    // leaves starts at a multiple of 2^j, so pushSubtree gives the sequential tree's root.
    let off = 0
    while (m > 0) {
      let size = 1
      const before = this.tree.size
      while (size * 2 <= m && (before === 0 || before % (size * 2) === 0)) size *= 2
      const at = OUT + off * 32
      for (let s = size; s > 1; s /= 2) pairs(at, s / 2)
      // A copy: the digest area is reused by the next batch.
      this.tree.pushSubtree(Uint8Array.prototype.slice.call(this.bytes, at, at + 32), size)
      off += size
      m -= size
    }
  }

  /** The root; the batch is finished (its WebAssembly instance goes to the next batch). */
  root (): Uint8Array {
    this.flush()
    this.release()
    return this.tree.root()
  }

  /** The perfect subtrees, as MerkleBuilder.nodes gives them; the batch is finished. */
  nodes (): Array<{ hash: Uint8Array, size: number }> {
    this.flush()
    this.release()
    return this.tree.nodes()
  }

  private release (): void {
    if (this.wasm === undefined) {
      giveBytes(this.bytes)
      this.use(Buffer.alloc(0))
      this.pos = IN
      return
    }
    if (this.wasm.native) spareNative = this.wasm
    else spareWasm = this.wasm
    this.wasm = undefined
    this.use(Buffer.alloc(0))
    this.in = IN
    this.pos = IN
  }
}
