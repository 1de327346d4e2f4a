import { describe, expect, it, beforeAll, afterAll } from 'vitest'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { checkGenesis, importBlock, loadCandidate, validateOnParent, type Chain } from '../../../src/chain/index.js'
import { hintOf, isPetalError } from '../../../src/util/index.js'
import { BLOCK_ERROR_CODES } from '../../../src/block/index.js'
import { FIXTURES, fixtureManifest, openFixtureChain } from '../../helpers/fixtures.js'

const entries = fixtureManifest()
const path = (f: string): string => join(FIXTURES, 'blocks', f)
const seal = (f: string): string => readFileSync(path(f).replace(/\.db$/, '.sig'), 'utf8').trim()

async function codeOf (p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'OK'
  } catch (err) {
    if (isPetalError(err)) return err.code
    throw err
  }
}

describe('broken-block fixtures: each is refused with its own code', () => {
  let chain: Chain
  beforeAll(async () => { chain = await openFixtureChain() })
  afterAll(() => { chain.close() })

  it('cover every validation error code the chain can raise', () => {
    const codes = new Set(entries.map(e => e.code))
    // Not a property of a block file: FILE_NOT_FOUND, NOT_REGULAR_FILE and EMPTY_BLOCK are about the
    // input given to signimportblock or import, and
    // _keys' PRIMARY KEY (pubkey_hash, sigkey_hash) cannot hold one signer's endorsement of a key
    // twice (the "quorum met by one key repeated" fixture is refused for dropping that key, as
    // RESERVED_SCHEMA); KEYOP_DUPLICATE_SIGNER is raised on signimportblock's --keyops input.
    // ENCRYPT_REFUSED is about signimportblock's --encrypt arguments.
    const notFromFiles = new Set(['FILE_NOT_FOUND', 'NOT_REGULAR_FILE', 'EMPTY_BLOCK', 'KEYOP_DUPLICATE_SIGNER', 'ENCRYPT_REFUSED'])
    for (const c of BLOCK_ERROR_CODES.filter(c => !notFromFiles.has(c))) expect(codes.has(c), `fixture for ${c}`).toBe(true)
  })

  for (const e of entries.filter(x => x.code !== 'OK' && x.genesis !== true)) {
    it(`${e.file} → ${e.code} (${e.why})`, async () => {
      const before = chain.tip()
      expect(await codeOf(importBlock(chain, path(e.file), seal(e.file), { expectedHash: e.expectedHash }))).toBe(e.code)
      // Refused means nothing changed.
      expect(chain.tip()).toEqual(before)
      expect(chain.index.sideBlocks()).toEqual([])
    })
  }

  // The CLI prints an error's own hint, else its code's documented one (session 28; hintOf): a block of
  // another chain got CHAIN_ID_MISMATCH's, which is about endorsements (`petal signkey`).
  it('chain-id-mismatch.db: the hint printed is about a block of another chain, not an endorsement', async () => {
    let hint: string | undefined
    try {
      await importBlock(chain, path('chain-id-mismatch.db'), seal('chain-id-mismatch.db'))
    } catch (err) {
      if (!isPetalError(err)) throw err
      expect(err.code).toBe('CHAIN_ID_MISMATCH')
      hint = hintOf(err)
    }
    expect(hint).toMatch(/another chain/)
    expect(hint).not.toMatch(/endorse|signkey/)
  })

  it('bad-genesis.db → BAD_GENESIS', async () => {
    const e = entries.find(x => x.genesis === true)
    expect(e?.code).toBe('BAD_GENESIS')
    const c = await loadCandidate(path(e?.file as string), seal(e?.file as string), { maxBytes: 1 << 20 })
    expect(await codeOf(Promise.resolve().then(() => checkGenesis(c)))).toBe('BAD_GENESIS')
  })

  it('a signature verdict computed in advance counts only when made with the signer\'s own key', async () => {
    const c = await loadCandidate(path('bad-seal.db'), seal('bad-seal.db'), { maxBytes: 1 << 20 })
    const parent = chain.get(c.file.header.previousHash) as NonNullable<ReturnType<Chain['get']>>
    const ctx = chain.contextAt(parent)
    const realKey = ctx.keys.get(c.file.header.creator)?.publicKey.hex as string
    // A verdict "valid" made with some other key is ignored: the seal is checked and refused.
    expect(await codeOf(Promise.resolve().then(() => validateOnParent({ ...c, verified: { key: '3059' + 'ab'.repeat(87), prev: true, seal: true } }, ctx)))).toBe('BAD_SEAL')
    // One made with the signer's key is used as is (here it says the seal is bad).
    expect(await codeOf(Promise.resolve().then(() => validateOnParent({ ...c, verified: { key: realKey, prev: true, seal: false } }, ctx)))).toBe('BAD_SEAL')
  })

  it('the control block good.db is accepted on the fixture tip', async () => {
    const r = await importBlock(chain, path('good.db'), seal('good.db'))
    expect(r.status).toBe('extended')
    expect(r.block.height).toBe(5)
  })
})
