import type { DaisyCommitment } from '../block/index.js'
import type { IndexDb } from '../storage/index.js'
import { isHash, isRecord, parseJson } from '../util/index.js'

/**
 * What the genesis commits to about a Daisy chain (or that it commits to none), kept in chain.db's
 * `meta` table so that `petal status` need not open the genesis file on every run. Written with
 * the genesis's own index rows (newchain, init, adopt-daisy: installGenesis; reindex), tagged with
 * the genesis hash it was read from. An index from before this key, or one whose value does not
 * parse or names another genesis, gives 'unknown': the caller reads the genesis file as before.
 */
export const DAISY_COMMITMENT_META = 'daisy_commitment'

export function recordDaisyCommitment (index: IndexDb, genesisHash: string, daisy: DaisyCommitment | undefined): void {
  index.setMeta(DAISY_COMMITMENT_META, JSON.stringify({ genesis: genesisHash, daisy: daisy ?? null }))
}

/** The recorded commitment of the genesis `genesisHash`: undefined if it commits to none, 'unknown' if not recorded for it. */
export function recordedDaisyCommitment (index: IndexDb, genesisHash: string): DaisyCommitment | undefined | 'unknown' {
  const v = parseOrUndefined(index.getMeta(DAISY_COMMITMENT_META))
  if (!isRecord(v) || v.genesis !== genesisHash) return 'unknown'
  const d = v.daisy
  if (d === null) return undefined
  if (!isRecord(d) || !isHash(d.genesisHash) || typeof d.chainParams !== 'string' || typeof d.tipHeight !== 'number' || !Number.isSafeInteger(d.tipHeight) || !isHash(d.tipHash)) return 'unknown'
  return { genesisHash: d.genesisHash, chainParams: d.chainParams, tipHeight: d.tipHeight, tipHash: d.tipHash }
}

function parseOrUndefined (text: string | undefined): unknown {
  if (text === undefined) return undefined
  try {
    return parseJson(text)
  } catch {
    return undefined
  }
}
