import type { Chain } from '../chain/index.js'
import { OWN_WITNESS_META, WITNESS_KEY_LAST_META, WITNESS_LAST_META } from '../storage/index.js'
import { fromHex, toHex } from '../util/index.js'
import { parseWitnessVkey } from './witness-keys.js'

// The last tree each witness key cosigned, in chain.db's meta (docs/proofs.md, "The last cosigned
// tree outlives chain.db"). Until session 57 one row, `witness_last_cosigned`, was shared by every
// key the witness ran with: a key's cosignature overwrote another's record, a key was held to trees
// another key cosigned, and `petal witnesses reset` judged only the last key's tree, so a key whose
// own tree the chain had left was refused with a hint to reset, which then said nothing was stuck.
// Now one row a key (`witness_last_cosigned <SPKI hex>`), as witness-cosigned.json keeps them.
//
// The shared row an older Petal wrote is kept and never written again: it is the tree the key
// witness_vkey names last cosigned (set together since session 54), so that key's row gets it
// (upgradeSharedRecord), and it still binds every key with no record of its own, since a key whose
// record it overwrote is named nowhere else: each tree that key cosigned is a prefix of it.

export interface LastTree { size: number, root: Uint8Array }
/** A record of a tree a witness key last cosigned: `key` its SPKI in hex, none for the shared row. */
export interface LastRecord extends LastTree { key?: string }

function parse (v: string | undefined): LastTree | undefined {
  const m = v === undefined ? null : /^(\d+) ([0-9a-f]{64})$/.exec(v)
  const root = m?.[2] === undefined ? undefined : fromHex(m[2])
  return m === null || root === undefined ? undefined : { size: Number(m[1]), root }
}

/** The shared row of a Petal before session 57, if chain.db holds one. */
export function sharedLastCosigned (chain: Chain): LastTree | undefined {
  return parse(chain.index.getMeta(WITNESS_LAST_META))
}

/** The row of the key whose SPKI is `key` (hex). */
export function lastCosignedBy (chain: Chain, key: string): LastTree | undefined {
  return parse(chain.index.getMeta(WITNESS_KEY_LAST_META + key))
}

/** Every record chain.db holds: each key's row, then the shared row. */
export function lastCosignedRecords (chain: Chain): LastRecord[] {
  const out: LastRecord[] = []
  for (const r of chain.index.checkpoints.lastCosignedRows()) {
    const t = parse(r.value)
    if (t !== undefined && /^[0-9a-f]+$/.test(r.key)) out.push({ ...t, key: r.key })
  }
  const shared = sharedLastCosigned(chain)
  return shared === undefined ? out : [...out, shared]
}

/** Record that `key` cosigned the tree of `size` and `root` (under the write lock). */
export function setLastCosigned (chain: Chain, key: string, size: number, root: Uint8Array): void {
  chain.index.setMeta(WITNESS_KEY_LAST_META + key, `${size} ${toHex(root)}`)
}

/** Remove `key`'s row, or the shared row (a reset). */
export function deleteLastCosigned (chain: Chain, key: string | undefined): void {
  chain.index.deleteMeta(key === undefined ? WITNESS_LAST_META : WITNESS_KEY_LAST_META + key)
}

/**
 * An older Petal's shared row: the tree of the key witness_vkey names, given to that key's row
 * when it has none as large (under the write lock; the shared row stays, binding keys with no
 * record of their own). The key whose SPKI `witness_vkey` names, if the shared row is its.
 */
export function upgradeSharedRecord (chain: Chain): string | undefined {
  const shared = sharedLastCosigned(chain)
  const vkey = chain.index.getMeta(OWN_WITNESS_META)
  const parsed = shared === undefined || vkey === undefined ? undefined : parseWitnessVkey(vkey)
  if (shared === undefined || typeof parsed !== 'object') return undefined
  const key = parsed.publicKey.hex
  const own = lastCosignedBy(chain, key)
  if (own === undefined || own.size < shared.size) setLastCosigned(chain, key, shared.size, shared.root)
  return key
}
