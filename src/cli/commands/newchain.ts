import type { Command } from 'commander'
import { parseNewChainInput } from '../../storage/index.js'
import type { Action } from '../program.js'
import { readInputFile } from '../input.js'
import { createChainWithKey } from './init.js'
import { shellWord } from '../../util/index.js'

export function register (program: Command, action: Action): void {
  program.command('newchain <params>').description('create a new chain from a chain-parameters JSON file (Daisy\'s fields plus quorum_rule, max_block_bytes, max_reorg_depth) in an empty data directory')
    .action(action(async (ctx, paramsFile: string) => {
      const input = parseNewChainInput((await readInputFile(paramsFile, 'chain parameters file', ctx.signal)).toString('utf8'))
      const { chain, key } = await createChainWithKey(ctx, input, { again: `petal newchain ${shellWord(paramsFile)}` })
      ctx.onClose(() => { chain.close() })
      const p = chain.params
      ctx.out.result({ chain_id: p.genesisHash, genesis_hash: p.genesisHash, creator_public_key: key.id, quorum_rule: p.quorumRule, dir: ctx.dir }, () => [
        `created chain ${p.genesisHash}`,
        `  data directory:  ${ctx.dir}`,
        `  signatory:       ${key.id}`,
        `  quorum rule:     ${p.quorumRule}, max block ${p.maxBlockBytes} bytes, max reorg depth ${p.maxReorgDepth}`,
        `Share ${ctx.dataDir.chainParams} (or the genesis hash) with the nodes that will join.`
      ].join('\n'))
    }))
}
