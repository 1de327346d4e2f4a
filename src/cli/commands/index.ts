import type { CommandModule } from '../program.js'
import * as init from './init.js'
import * as newchain from './newchain.js'
import * as keys from './keys.js'
import * as signkey from './signkey.js'
import * as signimportblock from './signimportblock.js'
import * as importCmd from './import.js'
import * as verify from './verify.js'
import * as reindex from './reindex.js'
import * as status from './status.js'
import * as blocks from './blocks.js'
import * as signers from './signers.js'
import * as query from './query.js'
import * as run from './run.js'
import * as pull from './pull.js'
import * as peers from './peers.js'

/** Every command, in the order `petal --help` lists them. */
export const COMMANDS: CommandModule[] = [init, newchain, run, pull, peers, status, blocks, query, signimportblock, importCmd, verify, reindex, signers, keys, signkey]
