import { isPetalError } from '../util/index.js'
import type { Chain } from './chain.js'
import { ChainError } from './errors.js'
import { KeyState } from './key-state.js'
import { replayChain, type ReplayProgress } from './replay.js'

export interface VerifyOptions {
  deep?: boolean
  workers?: number
  signal?: AbortSignal
  onProgress?: (p: ReplayProgress) => void
}

export interface VerifyReport {
  ok: boolean
  blocks: number
  bytes: number
  tipHeight: number
  tipHash: string
  seconds: number
  /** The first bad block, when !ok. */
  failure?: { height: number, code: string, message: string }
}

/**
 * `petal verify`: replay every canonical block file (hash, structure, signatures, links, key
 * operations) and check that the index agrees with the files.
 */
export async function verifyChain (chain: Chain, o: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now()
  const tip = chain.tip()
  const report = (extra: Partial<VerifyReport>): VerifyReport => ({
    ok: false, blocks: 0, bytes: 0, tipHeight: tip.height, tipHash: tip.hash, seconds: (performance.now() - started) / 1000, ...extra
  })
  let blocks = 0
  let bytes = 0
  let failure: VerifyReport['failure']
  try {
    const r = await replayChain(chain, {
      toHeight: tip.height,
      deep: o.deep,
      workers: o.workers,
      signal: o.signal,
      onProgress: p => { bytes = p.bytes; o.onProgress?.(p) },
      onBlock: (c, _ops) => {
        const h = c.file.header.height
        const rec = chain.index.byHeight(h)
        if (rec === undefined || rec.hash !== c.hash) throw new ChainError('VERIFY_FAILED', `block file at height ${h} is not the block the index records`, { details: { height: h } })
        if (rec.seal !== c.seal) throw new ChainError('VERIFY_FAILED', `seal file at height ${h} differs from the index`, { details: { height: h } })
        blocks++
      }
    })
    const indexKeys = KeyState.fromRecords(chain.index.signers(), tip.height)
    if (!r.keys.equals(indexKeys)) {
      failure = { height: tip.height, code: 'VERIFY_FAILED', message: 'the signatory set in the index differs from the one the blocks define' }
    }
  } catch (err) {
    if (!isPetalError(err) || err.code === 'ABORTED') throw err
    // Blocks are checked in height order from genesis: the one that failed is the next one.
    failure = { height: blocks, code: err.code, message: err.message }
  }
  return report({ ok: failure === undefined, blocks, bytes, failure })
}
