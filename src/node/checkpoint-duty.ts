import { statSync } from 'node:fs'
import { join } from 'node:path'
import type { Chain } from '../chain/index.js'
import type { SigningKey } from '../crypto/index.js'
import type { Network, Verdict } from '../network/index.js'
import { cosignableCheckpoint, cosignCheckpoint, findCheckpoint, judgeCheckpoint, judgeGossipedCheckpoint, keepReceivedCheckpoint, knownWitnesses, signTipCheckpoints, storedTipCheckpoints, WITNESS_COSIGNED_FILE, WITNESS_RESETS_FILE, witnessesFileProblem, type CheckpointAudience } from '../proof/index.js'
import { errorMessage, Mutex, type Logger } from '../util/index.js'
import { askCheckpoints } from './checkpoint-ask.js'

/** How often a signatory gossips its latest checkpoints again when its tip does not move. */
const CHECKPOINT_GOSSIP_MS = 5_000

export interface CheckpointDutyOptions {
  /** Sign the checkpoints of every tip reached with this key (a signatory's). */
  signingKey?: SigningKey
  /** Cosign checkpoints that extend the last one cosigned, as this witness. */
  witness?: { name: string, key: SigningKey }
  /** A pull's node: it asks its peers for checkpoints once synced (pull.ts), not on connecting. */
  pull?: boolean
}

/**
 * A node's part in checkpoints (docs/proofs.md): a signatory signs the checkpoints of every tip
 * it reaches (sealed here, from a peer, or imported by another process), so any row it holds can
 * be proven, and gossips them now and then for peers that joined since; a witness cosigns.
 */
export class CheckpointDuty {
  /** The tip this node last signed checkpoints for. */
  private signedTip = ''
  /** The checkpoints this node signed last, and when it last gossiped them. */
  private lastNotes: string[] = []
  private lastGossip = 0
  /** The tip this node last asked its peers for checkpoints at, once synced (synced()). */
  private askedTip = ''
  private readonly mutex = new Mutex()

  /** `active`: whether the node runs (a stopped node cosigns nothing). */
  constructor (private readonly chain: Chain, private readonly network: Network, private readonly options: CheckpointDutyOptions, private readonly logger: Logger, private readonly active: () => boolean) {}

  /** Sign the current tip's checkpoints if not done yet, and gossip the latest ones when due. */
  async signTip (signal: AbortSignal): Promise<void> {
    const key = this.options.signingKey
    if (key === undefined) return
    await this.mutex.run(async () => {
      const tip = this.chain.tip().hash
      if (tip !== this.signedTip) {
        const notes = await signTipCheckpoints(this.chain, key, { signal })
        this.signedTip = tip
        // None new when this tip's were signed already: by `petal signimportblock` or `petal seal`
        // in the commit of their block, or by this node before a restart. Gossip those then: a
        // follower or a puller had no checkpoint past the node's last own seal (user47).
        const gossip = notes.length > 0 ? notes : storedTipCheckpoints(this.chain, key)
        if (gossip.length > 0) { this.lastNotes = gossip; this.lastGossip = 0 }
        for (const note of notes) await this.witness(note)
        if (notes.length > 0) this.logger.debug('signed checkpoints', { tip })
      }
      // Peers keep them too, so that any node can prove rows (a follower signs nothing); again
      // now and then, for peers that joined since.
      if (this.lastNotes.length === 0 || Date.now() - this.lastGossip < CHECKPOINT_GOSSIP_MS) return
      // Only what this node would itself accept at its tip: none once its key is no active
      // signatory (revoked), none of a branch a reorg abandoned. Until session 49 the last notes
      // were gossiped every 5 s for good, and every peer ignored them.
      this.lastNotes = this.lastNotes.filter(n => judgeCheckpoint(this.chain, n) === 'accept')
      if (this.lastNotes.length === 0) return
      this.lastGossip = Date.now()
      for (const note of this.lastNotes) await this.network.publishCheckpoint(note).catch((err: unknown) => { this.logger.debug('checkpoint not gossiped', { error: errorMessage(err) }) })
    })
  }

  /**
   * A node that is no signatory (a follower, a witness) asks each peer it connects to for its
   * checkpoints, so that it proves rows at once rather than after the next gossip (docs/proofs.md,
   * "Asking a peer"). A signatory signs its own.
   */
  askPeer (peer: string, signal: AbortSignal): void {
    if (this.options.pull === true || signal.aborted || this.signs()) return
    askCheckpoints(this.chain, this.network, peer, { signal, logger: this.logger, onAccepted: async note => { await this.witness(note) } })
      .then(r => { if (r.kept > 0) this.logger.debug('kept checkpoints a peer sent', { peer, kept: r.kept }) })
      .catch((err: unknown) => { this.logger.debug('checkpoints from a peer not kept', { peer, error: errorMessage(err) }) })
  }

  /**
   * Sync went idle: a node that is no signatory asks every connected peer again when no stored
   * checkpoint covers its new tip (once per tip). Asked only on connecting, a follower that caught
   * up from a peer that does not gossip (a follower itself, beside which `petal seal` or
   * `petal signimportblock` signed the block) had no checkpoint past the tips it connected at.
   */
  synced (signal: AbortSignal): void {
    if (this.options.pull === true || signal.aborted || this.signs()) return
    // A witness cosigns a tree only once it is final at its own tip (proof/witness.ts): what it was
    // sent while behind, it cosigns now that its chain has caught up.
    if (this.options.witness !== undefined) {
      const note = cosignableCheckpoint(this.chain)
      // Looked at once per tip, note and witnesses list: what it decided then (cosigned, or why
      // not) holds while none of them changes, and the look takes the index's write lock, which
      // imports and seals wait for (docs/proofs.md, "Witness cosignatures"). A look that failed is
      // tried again at the next idle.
      const look = note === undefined ? undefined : this.lookStamp(note)
      if (note !== undefined && (look === undefined || look.tip !== this.looked?.tip || look.note !== this.looked.note || look.known !== this.looked.known || look.resets !== this.looked.resets)) {
        this.looked = look
        this.witness(note).catch((err: unknown) => {
          this.looked = undefined
          this.logger.debug('checkpoint not cosigned', { error: errorMessage(err) })
        })
      }
    }
    const tip = this.chain.tip()
    if (tip.height === 0 || tip.hash === this.askedTip || findCheckpoint(this.chain, { height: tip.height }) !== undefined) return
    this.askedTip = tip.hash
    for (const peer of this.network.connectedPeers()) this.askPeer(peer, signal)
  }

  /** What a witness's last look at sync idle saw (synced()). */
  private looked: { tip: string, note: string, known: object, resets: string } | undefined

  /**
   * The tip, the note, the witnesses list (the same array while the file and own key stay) and
   * the stats of witness-resets.json and witness-cosigned.json of a look; undefined when that list
   * cannot be read. Those files: one that cannot be read stops all cosigning, and once its operator
   * moves it aside or lets this user read it (its hints), nothing else need change before the next
   * look (review56b, review57: until then, the next tip).
   */
  private lookStamp (note: string): { tip: string, note: string, known: object, resets: string } | undefined {
    try {
      const resets = [WITNESS_RESETS_FILE, WITNESS_COSIGNED_FILE].map(f => {
        const st = statSync(join(this.chain.dir.root, f), { throwIfNoEntry: false })
        // Owner and mode too: an unreadable record's hint is `chmod a+r`, which changes neither
        // size nor mtime, and it was seen only at the next tip (review57).
        return st === undefined ? '' : `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.mode}:${st.uid}`
      }).join(' ')
      return { tip: this.chain.tip().hash, note, known: knownWitnesses(this.chain), resets }
    } catch {
      return undefined
    }
  }

  /**
   * node-state.json's `witnesses_problem`: the `witnesses` file is looked at (a stat; read again
   * when it changed), so that `petal status` shows a file the node did not take without waiting
   * for the next checkpoint to arrive.
   */
  witnessesState (): { witnesses_problem?: string } {
    try {
      knownWitnesses(this.chain)
    } catch (err) { // unreadable before any good read: each use fails with this, as at a start
      return { witnesses_problem: errorMessage(err) }
    }
    const problem = witnessesFileProblem(this.chain.dir.root)
    return problem === undefined ? {} : { witnesses_problem: problem.message }
  }

  /** Who this node's API tells what to do when no checkpoint covers a block (proof/no-checkpoint.ts). */
  audience (): CheckpointAudience {
    const key = this.options.signingKey
    if (key === undefined || !this.signs()) return { kind: 'follower' }
    // A key signs no tree older than itself (docs/proofs.md, "Which signatories vouch for a checkpoint").
    const tip = this.chain.tip()
    const addedAt = this.chain.keysAt(tip).get(key.id)?.addedAt ?? 0
    const finalFrom = addedAt + this.chain.params.maxReorgDepth
    return { kind: 'signatory', key: key.id, isDefault: false, ...(addedAt > 0 && tip.height < finalFrom ? { finalFrom } : {}) }
  }

  /** Whether this node's key is an active signatory at the tip (it signs its own checkpoints). */
  private signs (): boolean {
    const key = this.options.signingKey
    return key !== undefined && this.chain.keysAt(this.chain.tip()).isActive(key.id)
  }

  /**
   * Judge a gossiped checkpoint note (docs/proofs.md, "Which cosignatures a node keeps"). A note
   * this node verified every line of is accepted: gossipsub forwards it whole and delivers it
   * (gossiped()). One with a line it did not verify (an unknown key's, a forged or junk one) is
   * ignored, so gossipsub forwards none of it, as gossipsub forwards a message only as it came; the
   * node keeps its verified lines and, when they add to what it kept, publishes them as a note of
   * its own. Until session 51 such a note was forwarded whole to peers that drop those lines.
   */
  judgeGossiped (note: string, from: string): Verdict {
    let j: ReturnType<typeof judgeGossipedCheckpoint>
    try {
      j = judgeGossipedCheckpoint(this.chain, note)
    } catch (err) { // the witnesses file unreadable at its first read: judged as before, whole
      this.logger.debug('checkpoint lines not checked', { from, error: errorMessage(err) })
      return judgeCheckpoint(this.chain, note)
    }
    if (j.verdict !== 'accept' || j.verified === note) return j.verdict
    this.keep(note, from, j.verified)
    return 'ignore'
  }

  /** A gossiped note gossipsub delivered (accepted): keep its verified lines, cosign as a witness. */
  gossiped (note: string, from: string): void { this.keep(note, from, undefined) }

  private keep (note: string, from: string, forward: string | undefined): void {
    keepReceivedCheckpoint(this.chain, note, from)
      .then(async kept => {
        if (kept && forward !== undefined && forward !== '' && this.active()) {
          await this.network.publishCheckpoint(forward).catch((err: unknown) => { this.logger.debug('checkpoint lines not gossiped', { error: errorMessage(err) }) })
        }
        await this.witness(note)
      })
      .catch((err: unknown) => { this.logger.debug('checkpoint from a peer not kept', { from, error: errorMessage(err) }) })
  }

  /** As a witness, cosign a checkpoint that extends the last one cosigned, and gossip the result. */
  async witness (note: string): Promise<void> {
    const w = this.options.witness
    if (w === undefined || !this.active()) return
    const cosigned = await cosignCheckpoint(this.chain, note, w)
    if (cosigned === undefined) return
    this.logger.debug('cosigned a checkpoint', { witness: w.name })
    await this.network.publishCheckpoint(cosigned).catch((err: unknown) => { this.logger.debug('cosigned checkpoint not gossiped', { error: errorMessage(err) }) })
  }
}
