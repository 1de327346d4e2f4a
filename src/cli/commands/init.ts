import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { checkEmptyDir, createChain, prepareEmptyDir, removeMadeDir, type Chain } from '../../chain/index.js'
import type { SigningKey } from '../../crypto/index.js'
import { parseNewChainInput, type NewChainInput } from '../../storage/index.js'
import type { CliContext } from '../context.js'
import type { Action } from '../program.js'
import { readInputFile } from '../input.js'
import { printStatus } from './status.js'
import { hashPool, openChain } from '../hashing.js'
import { takeCreateLock } from '../../node/take-lock.js'
import { pausepoint, shellWord } from '../../util/index.js'
import { creationFailure } from '../creation-failure.js'

interface ChainWithKey { chain: Chain, key: SigningKey }

/**
 * Create a chain in the data directory, signed by --key or the default key; a first key is
 * generated when the keystore is empty. A refusal changes nothing: the directory is checked
 * before a key is generated, and what this call created is removed if the chain is not made.
 * Under node.lock from before the directory is cleared to after chainparams.json is written: two
 * at once (init and init, init and newchain) would interleave their clearing and their genesis
 * (DATA_DIR_BUSY for the one that waited for it in vain). `ifAbsent` (init): a chain made there
 * meanwhile is not an error, and undefined is returned. `again`: the command a failure of the disk
 * before the chain is made tells the user to run (creationFailure).
 */
export async function createChainWithKey (ctx: CliContext, input: NewChainInput, o: { again: string }): Promise<ChainWithKey>
export async function createChainWithKey (ctx: CliContext, input: NewChainInput, o: { again: string, ifAbsent: true }): Promise<ChainWithKey | undefined>
export async function createChainWithKey (ctx: CliContext, input: NewChainInput, o: { again: string, ifAbsent?: boolean }): Promise<ChainWithKey | undefined> {
  const dir = ctx.dataDir
  const dirExisted = existsSync(dir.root)
  // Refused before the lock is looked at (a chain there may be a node's, which holds it), and
  // nothing is removed before it is held (another init's genesis, being made).
  if (o.ifAbsent === true && existsSync(dir.chainParams)) return undefined
  checkEmptyDir(dir)
  mkdirSync(dir.root, { recursive: true, mode: 0o755 })
  // Tests hold a creation here, checked and not yet holding the lock, while another makes the chain.
  await pausepoint('init:checked', ctx.signal)
  const lock = takeCreateLock(dir.root)
  try {
    // Looked at again once held: another creation may have ended meanwhile. Its chain (init: nothing
    // to do; newchain: DATA_DIR_NOT_EMPTY) and its keystore are not this call's to remove on failure.
    if (o.ifAbsent === true && existsSync(dir.chainParams)) return undefined
    const keystoreExisted = existsSync(dir.keystore)
    prepareEmptyDir(dir) // refused here (DATA_DIR_NOT_EMPTY), nothing is removed but a crashed init's leftovers
    // Said only once the key stays (the chain exists): a refused creation removes the key it
    // generated, and a note printed before would name a key the user does not have.
    let made: { id: string, encrypted: boolean } | undefined
    const noteMade = (): void => {
      if (made !== undefined) ctx.out.note(`generated signing key ${made.id}${made.encrypted ? ' (encrypted)' : ' (unencrypted: set PETAL_PASSPHRASE or --passphrase-file to encrypt keys)'}`)
    }
    try {
      const ks = ctx.keystore()
      if (ks.list().length === 0) made = ks.generate({ passphrase: ctx.passphrase() })
      const key = ctx.loadKey()
      const chain = await createChain(ctx.dir, input, key, { logger: ctx.logger, hashPool: hashPool(ctx) })
      noteMade()
      return { chain, key }
    } catch (err) {
      // Only what this call made: between its first look and the lock, another process may have
      // put files in the directory it made (`petal keygen`'s key, which the whole directory's
      // removal took with it: review34).
      // Never once chainparams.json is written (its directory's fsync failing after the rename):
      // the chain is made and this key is its only signatory (mend36, torture seed 361 init #5).
      const chainMade = existsSync(dir.chainParams)
      if (!chainMade) {
        if (!keystoreExisted) rmSync(dir.keystore, { recursive: true, force: true })
        if (!dirExisted) removeMadeDir(dir)
      }
      if (chainMade || keystoreExisted) noteMade() // the key stays
      throw creationFailure(err, dir, o.again)
    }
  } finally {
    lock.release()
  }
}

/** `petal init`: create a chain from a template if the data directory has none (idempotent). */
export async function initFromTemplate (ctx: CliContext, template: string, given = false): Promise<boolean> {
  if (existsSync(ctx.dataDir.chainParams)) return false
  const input = parseNewChainInput((await readInputFile(template, 'chain parameters template', ctx.signal)).toString('utf8'))
  const made = await createChainWithKey(ctx, input, { ifAbsent: true, again: given ? `petal init --template ${shellWord(template)}` : 'petal init' })
  if (made === undefined) return false
  const { chain, key } = made
  chain.close()
  ctx.out.note(`created a new chain in ${ctx.dir} with ${key.id} as its signatory`)
  return true
}

export function register (program: Command, action: Action): void {
  program.command('init').description('create a local chain from a template (genesis/local.json) if the data directory has none, then show its status')
    .option('--template <file>', 'chain parameters template')
    .action(action(async (ctx, o: { template?: string }) => {
      const created = await initFromTemplate(ctx, o.template ?? join(ctx.io.packageRoot, 'genesis', 'local.json'), o.template !== undefined)
      printStatus(ctx, openChain(ctx))
      if (!ctx.out.json) {
        const p = ctx.opts.dir !== undefined ? `--dir ${shellWord(ctx.opts.dir)} ` : ''
        ctx.out.stdout([
          '',
          created ? 'Next, try:' : 'Try:',
          `  npx petal ${p}signimportblock my-data.db      # seal an SQLite file into the next block`,
          `  npx petal ${p}blocks                          # list blocks`,
          `  npx petal ${p}verify                          # re-check every hash and signature`,
          `  npx petal ${p}mykeys                          # your keys and whether they are signatories`,
          ''
        ].join('\n'))
      }
    }))
}
