import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { adoptDaisy, ADOPTED_STATE_DIR, Chain, checkEmptyDir, type AdoptReport } from '../../chain/index.js'
import { takeCreateLock } from '../../node/take-lock.js'
import { isDaisyDir, parseNewChainInput, StorageError } from '../../storage/index.js'
import { isPetalError, pausepoint, shellWord } from '../../util/index.js'
import type { CliContext } from '../context.js'
import { readInputFile } from '../input.js'
import { syncMirrorAfterImport } from '../mirror-sync.js'
import { formatBytes, short, UsageError } from '../output.js'
import type { Action } from '../program.js'
import { hashPool } from '../hashing.js'
import { creationFailure } from '../creation-failure.js'

export function register (program: Command, action: Action): void {
  program.command('adopt-daisy <daisy-dir>').description('make --dir a Petal chain that continues a Daisy chain: verify every Daisy block, keep the history readable and queryable in --dir, and seal a v2 genesis that commits to Daisy\'s tip and chain parameters (docs/daisy.md)')
    .option('--params <file>', 'the new chain\'s parameters, as for newchain (default: Daisy\'s creator and description, quorum rule daisy-capped)')
    .action(action(async (ctx, daisyDir: string, o: { params?: string }) => {
      if (!isDaisyDir(daisyDir)) throw new UsageError(`${daisyDir} is not a Daisy data directory (no daisy.db, no blocks/0000/block_00000000.db)`, 'give the directory Daisy ran with (its -dir, by default ~/.daisy)')
      const input = o.params === undefined ? undefined : parseNewChainInput((await readInputFile(o.params, 'chain parameters file', ctx.signal)).toString('utf8'))
      const key = loadSignatoryKey(ctx, daisyDir)
      // Refused before the lock is looked at (a chain there may be a node's, which holds it).
      checkEmptyDir(ctx.dataDir)
      mkdirSync(ctx.dir, { recursive: true, mode: 0o755 })
      // Tests hold an adoption here, checked and not yet holding the lock, while another makes a chain.
      await pausepoint('adopt:checked', ctx.signal)
      // Held from before the directory is cleared to after chainparams.json is written, as init and
      // newchain hold it: another creation there (init, newchain, adopt-daisy, a new pull) would clear
      // this one's copy or write its own genesis over it (DATA_DIR_BUSY for the one that waits).
      const lock = takeCreateLock(ctx.dir)
      let r: AdoptReport
      try {
        const bar = ctx.progress('adopt-daisy')
        r = await adoptDaisy(daisyDir, ctx.dir, key, { logger: ctx.logger, hashPool: hashPool(ctx), signal: ctx.signal, input, onProgress: p => { bar.update(p) } })
        bar.end()
      } catch (err) {
        throw creationFailure(err, ctx.dataDir, `petal adopt-daisy ${shellWord(daisyDir)}${o.params === undefined ? '' : ` --params ${shellWord(o.params)}`}`)
      } finally {
        lock.release()
      }
      ctx.onClose(() => { r.chain.close() })
      for (const w of r.warnings) ctx.io.stderr(`petal: warning: Daisy block ${w.height}: ${w.message} [${w.kind}]\n`)
      // Both mirrors now, so that the first query over the old and the new blocks starts at once.
      const history = Chain.open(join(ctx.dir, ADOPTED_STATE_DIR), { logger: ctx.logger })
      ctx.onClose(() => { history.close() })
      await syncMirrorAfterImport(ctx, history)
      await syncMirrorAfterImport(ctx, r.chain)
      const c = r.commitment
      ctx.out.result({
        chain_id: r.chain.chainId, dir: ctx.dir, daisy_dir: daisyDir, daisy_blocks: r.blocks, daisy_bytes: r.bytes,
        commitment: { daisy_genesis_hash: c.genesisHash, daisy_chain_params: c.chainParams, daisy_tip_height: c.tipHeight, daisy_tip_hash: c.tipHash },
        signatories: r.signatories, warnings: r.warnings
      }, () => [
        `adopted the Daisy chain ${c.genesisHash}: ${r.blocks} blocks (${formatBytes(r.bytes)}) verified and copied to ${join(ctx.dir, 'daisy')}`,
        `created chain ${r.chain.chainId}`,
        `  data directory:  ${ctx.dir}`,
        `  continues:       Daisy block ${c.tipHeight} ${c.tipHash}`,
        `  signatories:     ${r.signatories.map(s => short(s)).join(', ')} (the Daisy signatories active at its tip)`,
        `\`petal --dir ${shellWord(ctx.dir)} verify\` checks the continuity; \`petal --dir ${shellWord(ctx.dir)} query\` reads the old and the new blocks together.`
      ].join('\n'))
    }))
}

/** The signing key (--key or the keystore's default), with a hint that leads to Daisy's own key. */
function loadSignatoryKey (ctx: CliContext, daisyDir: string): ReturnType<CliContext['loadKey']> {
  try {
    return ctx.loadKey()
  } catch (err) {
    if (isPetalError(err) && err.code === 'NO_KEYS') {
      throw new StorageError('NO_KEYS', `the keystore of ${ctx.dir} has no key to seal the new genesis with`, {
        hint: `import the Daisy signatory key: \`petal --dir ${shellWord(ctx.dir)} keys import ${shellWord(join(daisyDir, 'private.db'))}\``
      })
    }
    throw err
  }
}
