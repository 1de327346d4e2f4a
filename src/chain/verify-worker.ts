// Worker thread for verify and reindex: hashes a block file and runs the structural checks, the
// per-file work that can go in parallel. Chain-context checks stay on the main thread, in order.
import { readBlockFile, verifyPrevious, verifySeal, type BlockFile } from '../block/index.js'
import { parsePublicKey, sha256FileSync, type PublicKey } from '../crypto/index.js'
import { readSeal } from '../storage/index.js'
import type { Preverified } from './validate/types.js'
import { serveWorker, type PetalError } from '../util/index.js'

/**
 * A batch of block files to read (one message per batch: small blocks cost less than a round
 * trip), and the signatories the caller knew when it sent the batch (key id → hex SPKI), with
 * which the worker checks the blocks' signatures ahead of the caller.
 */
export interface ReadRequest { paths: string[], maxBytes: number, deep: boolean, keys: Record<string, string> }
/** Per path, in order: the result, or the coded error that file failed with. */
export type ReadReply = Array<{ hash: string, seal: string, file: BlockFile, verified?: Preverified } | { error: { name: string, code?: string, message: string, details?: Record<string, unknown> } }>

// Parsed signatory keys, by hex SPKI (a chain has few; parsing one costs more than a verify).
const parsed = new Map<string, PublicKey>()
function keyOf (spki: string): PublicKey {
  let k = parsed.get(spki)
  if (k === undefined) {
    k = parsePublicKey(spki)
    if (parsed.size > 10_000) parsed.clear()
    parsed.set(spki, k)
  }
  return k
}

serveWorker<ReadRequest, ReadReply>(async req => {
  const out: ReadReply = []
  for (const path of req.paths) {
    try {
      const hash = sha256FileSync(path)
      const file = await readBlockFile(path, { maxBytes: req.maxBytes, quickCheck: req.deep, checkManifest: req.deep })
      const seal = readSeal(path)
      // Signature checks are the costliest per-block work: do them here, in parallel, with the key
      // the caller named; the caller uses the verdict only if its own key state agrees.
      const spki = req.keys[file.header.creator]
      let verified: Preverified | undefined
      if (spki !== undefined) {
        const pub = keyOf(spki)
        verified = { key: spki, prev: verifyPrevious(pub, file.header), seal: verifySeal(pub, file.header, hash, seal) }
      }
      out.push({ hash, seal, file, verified })
    } catch (err) {
      const e = err as PetalError
      out.push({ error: { name: e.name, code: e.code, message: e.message, details: e.details === undefined ? undefined : { ...e.details } } })
      break // later blocks of the batch are not needed: the replay stops at the first bad one
    }
  }
  return out
})
