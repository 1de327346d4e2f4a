// The floor of a sync's CPU per block (bench/network.bench.ts): what every block costs however
// the pipeline is arranged, measured one part at a time in the pulling process on the blocks the
// bench pulls. Receiving the bytes (and serving them) is measured with the raw libp2p stream.
import { createHash } from 'node:crypto'
import { closeSync, fsync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { rename } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { openBlockReadonly, prevMessage, readBlockFile, verifySeal } from '../src/block/index.js'
import { Chain } from '../src/chain/index.js'
import { parsePublicKey, verifyV2, type PublicKey } from '../src/crypto/index.js'
import { sealPathOf } from '../src/storage/index.js'
import { fromHex, fsyncDirAsync } from '../src/util/index.js'

/**
 * CPU (all threads of this process) per block of each part, in ms. `checks` is not a part of the
 * floor: a block's whole structural check (quick_check, schema, `_meta`, `_keys`, the manifest) as
 * a pull's load thread runs it on the bytes it holds, the consensus rules the floor's one
 * quick_check (`sqlite`) stands in for.
 */
export interface SyncFloor { blocks: number, bytes: number, sha256: number, signatures: number, files: number, sqlite: number, checks: number }

const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000

/** Measure the parts on blocks 1…`count` of the chain in `dir`, writing files under `work`. */
export async function measureSyncFloor (dir: string, work: string, count: number): Promise<SyncFloor> {
  const chain = Chain.open(dir)
  let blocks: Array<{ path: string, bytes: Buffer, record: NonNullable<ReturnType<Chain['get']>> }>
  const keys = new Map<string, PublicKey>()
  const chainId = chain.chainId
  try {
    const n = Math.min(count, chain.tip().height)
    blocks = []
    for (let h = 1; h <= n; h++) {
      const record = chain.get(h) as NonNullable<ReturnType<Chain['get']>>
      blocks.push({ path: chain.pathOf(record), bytes: readFileSync(chain.pathOf(record)), record })
    }
    for (const s of chain.index.signers()) keys.set(s.keyId, parsePublicKey(s.pubkey))
  } finally {
    chain.close()
  }
  const per = (f: () => void): number => { const c = process.cpuUsage(); f(); return cpuMs(process.cpuUsage(c)) / blocks.length }
  // The blocks' buffers were filled by the kernel (readFileSync). On this project's VM (a PVM guest)
  // a page the kernel wrote costs again at the process's own first read of it: a first SHA-256 pass
  // over such buffers took 2.0-2.6 ms of CPU a MiB, the next ones 0.64-0.71 (docs/performance/pull.md,
  // "Session 48: the floor and the 1 MB pull (sync48)"). The pull hashes bytes its own decryption
  // has just written, so the floor's hash is timed on buffers this process has already read.
  for (const b of blocks) createHash('sha256').update(b.bytes).digest()

  // The transfer's SHA-256 of every byte.
  const sha256 = per(() => { for (const b of blocks) createHash('sha256').update(b.bytes).digest('hex') })

  // The two signatures of a block (its seal, and the creator's signature of the previous hash).
  const signatures = per(() => {
    for (const { record: r } of blocks) {
      const pub = keys.get(r.signer)
      if (pub === undefined) throw new Error(`no key ${r.signer}`)
      if (!verifySeal(pub, { version: 2, chainId, height: r.height, rowsRoot: r.rowsRoot }, r.hash, r.seal)) throw new Error(`seal of block ${r.height} does not verify`)
      if (!verifyV2(pub, prevMessage(chainId, r.height, r.parent), fromHex(r.prevSig) ?? new Uint8Array(0))) throw new Error(`previous-hash signature of block ${r.height} does not verify`)
    }
  })

  // Two new files per block (the block and its .sig), written, fsynced and renamed into a slot
  // directory, the directories fsynced once per group of 64: the data directory's layout.
  const root = join(work, 'floor-files')
  rmSync(root, { recursive: true, force: true })
  mkdirSync(join(root, 'tmp'), { recursive: true })
  mkdirSync(join(root, 'slot'), { recursive: true })
  const c0 = process.cpuUsage()
  for (let g = 0; g < blocks.length; g += 64) {
    await Promise.all(blocks.slice(g, g + 64).map(async (b, i) => {
      const tmp = join(root, 'tmp', `${g + i}.db`)
      await Promise.all([writeSynced(tmp, b.bytes), writeSynced(sealPathOf(tmp), b.record.seal + '\n')])
      await rename(sealPathOf(tmp), sealPathOf(join(root, 'slot', `${g + i}.db`)))
      await rename(tmp, join(root, 'slot', `${g + i}.db`))
    }))
    await Promise.all([fsyncDirAsync(join(root, 'tmp')), fsyncDirAsync(join(root, 'slot'))])
  }
  const files = cpuMs(process.cpuUsage(c0)) / blocks.length
  rmSync(root, { recursive: true, force: true })

  // SQLite's own check of the file on a fresh connection: open with the defensive settings,
  // quick_check, close (the least of the structural checks that decide validity today).
  const sqlite = per(() => {
    for (const b of blocks) {
      const db = openBlockReadonly(b.path)
      try {
        if (db.pragma('quick_check(1)', { simple: true }) !== 'ok') throw new Error(`block ${b.record.height} fails quick_check`)
      } finally {
        db.close()
      }
    }
  })
  const c1 = process.cpuUsage()
  for (const b of blocks) await readBlockFile(b.path, { maxBytes: Number.MAX_SAFE_INTEGER, bytes: b.bytes, head: { bytes: b.bytes.subarray(0, 4096), size: b.bytes.byteLength } })
  const checks = cpuMs(process.cpuUsage(c1)) / blocks.length
  return { blocks: blocks.length, bytes: blocks.reduce((s, b) => s + b.bytes.byteLength, 0), sha256, signatures, files, sqlite, checks }
}

const fsyncFd = promisify(fsync)

/** A new file written and fsynced, only the fsync on the thread pool (the least CPU found for it). */
async function writeSynced (path: string, data: Uint8Array | string): Promise<void> {
  const fd = openSync(path, 'wx', 0o644)
  try {
    writeFileSync(fd, data)
    await fsyncFd(fd)
  } finally {
    closeSync(fd)
  }
}
