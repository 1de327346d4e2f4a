import { contentIsBack, originOf, resealEach, resealOrphan, type Chain, type ImportResult, type ResealRecorder } from '../chain/index.js'
import type { SigningKey } from '../crypto/index.js'
import { errorMessage, pausepoint, type Logger } from '../util/index.js'

/** What a node's re-seal pass asks of its syncer. */
export interface ResealPassHooks {
  /** A sync target appeared: end the pass (re-seal on the tip the sync leads to). */
  busy: () => boolean
  /** An orphan not to try: one given up on before, or one whose rows the ingest service re-seals. */
  skip: (hash: string) => boolean
  gaveUp: (hash: string) => void
  /** A re-seal landed: count it and announce it. */
  imported: (r: ImportResult) => Promise<void>
  logger: Logger
}

/** Thrown from a re-seal's beforeAccept when its orphan's content came back meanwhile: nothing to do. */
class ContentBack extends Error {}

/**
 * A signatory node's pass over its pending orphans (DESIGN.md, Consensus: "re-seals its content on
 * the new tip"), lowest first, each recorded in `reseals` as the orphan's copy before it commits.
 * Each is judged again under the write lock, where the re-seal reads its tip: a `petal reseal` by
 * hand that held the lock while the node waited for it may have re-sealed the same orphan, and
 * the node's re-seal then put its rows on the chain twice (review47).
 */
export async function resealPass (chain: Chain, key: SigningKey, reseals: ResealRecorder | undefined, hooks: ResealPassHooks, signal: AbortSignal): Promise<void> {
  if (!chain.keysAt(chain.tip()).isActive(key.id)) return
  await resealEach(chain, key.id, async o => {
    if (hooks.busy() || signal.aborted) return false
    if (hooks.skip(o.hash)) return true
    try {
      await pausepoint('reseal:chosen', signal) // tests: a `petal reseal` by hand re-seals o meanwhile
      const origin = originOf(chain, o, reseals)
      const r = await resealOrphan(chain, o.hash, key, {
        signal,
        origin,
        onWait: () => { hooks.logger.info('waiting for the write lock to re-seal an orphaned block', { orphan: o.hash }) },
        beforeAccept: async b => {
          if (contentIsBack(chain, o.hash, key.id, reseals)) throw new ContentBack()
          await reseals?.record(b.hash, o.hash, origin, signal)
        }
      })
      await hooks.imported(r)
    } catch (err) {
      if (signal.aborted) return false
      if (err instanceof ContentBack) {
        hooks.logger.info('an orphaned block\'s content came back while its re-seal waited', { orphan: o.hash })
        return true
      }
      hooks.gaveUp(o.hash)
      hooks.logger.warn('could not re-seal an orphaned block', { orphan: o.hash, error: errorMessage(err) })
    }
    return true
  }, reseals)
}
