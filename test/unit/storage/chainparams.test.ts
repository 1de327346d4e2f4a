import { describe, expect, it } from 'vitest'
import { chainParamsToJson, parseChainParams, parseNewChainInput } from '../../../src/storage/index.js'
import { isPetalError } from '../../../src/util/index.js'

function err (fn: () => unknown): { code: string, hint?: string } {
  try { fn(); return { code: 'OK' } } catch (e) { if (isPetalError(e)) return { code: e.code, hint: e.hint }; throw e }
}

describe('newchain parameters', () => {
  it('accepts Daisy\'s example file and fills Petal\'s defaults', () => {
    const i = parseNewChainInput('{"consensus_type":"PoA","creator":"Ivan Voras <ivoras@gmail.com>","genesis_block_timestamp":"2018-08-16T12:49:32+02:00","bootstrap_peers":["/ip4/127.0.0.1/tcp/2017"],"description":"The Mighty Blockchain"}')
    expect(i).toMatchObject({ creator: 'Ivan Voras <ivoras@gmail.com>', description: 'The Mighty Blockchain', consensus: { quorumRule: 'daisy-capped', maxBlockBytes: 64 * 1024 * 1024, maxReorgDepth: 100 } })
  })

  it('refuses cryptographic fields, unknown fields (with a suggestion), bad rules and timestamps', () => {
    expect(err(() => parseNewChainInput('{"genesis_block_hash":"00"}')).code).toBe('CHAINPARAMS_INVALID')
    const typo = err(() => parseNewChainInput('{"quorumrule":"majority"}'))
    expect(typo.code).toBe('CHAINPARAMS_INVALID')
    expect(typo.hint).toContain('quorum_rule')
    expect(err(() => parseNewChainInput('{"quorum_rule":"unanimous"}')).code).toBe('CHAINPARAMS_INVALID')
    expect(err(() => parseNewChainInput('{"genesis_block_timestamp":"yesterday"}')).code).toBe('CHAINPARAMS_INVALID')
    expect(err(() => parseNewChainInput('{"max_block_bytes":10}')).code).toBe('CHAINPARAMS_INVALID')
    expect(err(() => parseNewChainInput('[1]')).code).toBe('CHAINPARAMS_INVALID')
    expect(err(() => parseNewChainInput('{')).code).toBe('CHAINPARAMS_INVALID')
  })
})

describe('chainparams.json', () => {
  it('round-trips with Daisy\'s field names', () => {
    const p = { genesisHash: 'ab'.repeat(32), genesisSeal: '3006', genesisTimestamp: '2026-01-01T00:00:00.000Z', creator: 'c', creatorPublicKey: '1:' + 'cd'.repeat(32), description: 'd', bootstrapPeers: ['/ip4/1.2.3.4/tcp/2017/p2p/12D3KooWx'], quorumRule: 'majority' as const, maxBlockBytes: 9999, maxReorgDepth: 5 }
    const json = chainParamsToJson(p)
    expect(JSON.parse(json)).toMatchObject({ genesis_block_hash: p.genesisHash, genesis_block_hash_signature: '3006', consensus_type: 'PoA', quorum_rule: 'majority' })
    expect(parseChainParams(json)).toEqual(p)
    expect(err(() => parseChainParams('{"genesis_block_hash":"nope"}')).code).toBe('CHAINPARAMS_INVALID')
  })
})
