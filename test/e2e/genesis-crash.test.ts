import { afterAll, describe, expect, it } from 'vitest'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { extendChain, fixtureKey, newTestChain } from '../helpers/chain.js'
import { addrOf, startNode, stopAll } from '../helpers/network.js'
import { petal } from '../helpers/node-process.js'
import { tmpDir } from '../helpers/tmp.js'

// A kill -9 inside the genesis's index transaction (the genesis placed, the commit not yet made,
// chainparams.json not yet written) leaves a directory that holds no chain: chain.db, 0000/, tmp/
// and the write lock's writer.json. Found by bench/crash-torture.ts (session 32): the next `pull`
// or `init` refused it as DATA_DIR_NOT_EMPTY (writer.json), whose hint ("give an empty or new
// directory") left the interrupted pull no way to finish. It must redo the initialisation.
afterAll(stopAll)

async function killedAtGenesis (args: string[]): Promise<void> {
  const r = await petal(args, { PETAL_FAILPOINT: 'genesis:placed' })
  expect(r.code, r.stderr).toBe(null) // ended by SIGKILL at the failpoint
  const dir = args[1] as string
  expect(existsSync(join(dir, 'writer.json')), 'the kill left writer.json').toBe(true)
  expect(existsSync(join(dir, 'chainparams.json'))).toBe(false)
  // The atomic write of chainparams.json cut short leaves its temporary too.
  writeFileSync(join(dir, 'chainparams.json.99999.0badc0de.tmp'), '{')
  if (existsSync(join(dir, 'keystore'))) writeFileSync(join(dir, 'keystore', 'default.4194999.0badc0de.tmp'), '1:')
}

describe('kill -9 while a genesis is installed', () => {
  it('init: the next init finishes the chain', async () => {
    const dir = join(tmpDir(), 'data')
    await killedAtGenesis(['--dir', dir, 'init'])
    const again = await petal(['--dir', dir, 'init'])
    expect(again.code, again.stderr).toBe(0)
    const v = await petal(['--dir', dir, 'verify'])
    expect(v.code, v.stderr).toBe(0)
    expect(existsSync(join(dir, 'writer.json'))).toBe(false)
    expect(readdirSync(join(dir, 'keystore')).filter(n => n.endsWith('.tmp'))).toEqual([])
  }, 60_000)

  it('pull: running the pull again finishes it', async () => {
    const alice = fixtureKey('alice')
    const { chain, dir: sDir } = await newTestChain({ key: alice })
    await extendChain(chain, alice, 3, 1)
    const tip = chain.tip().hash
    chain.close()
    const s = await startNode(sDir, { key: alice })
    const dir = join(tmpDir(), 'pulled')
    await killedAtGenesis(['--dir', dir, 'pull', addrOf(s)])
    const again = await petal(['--dir', dir, '--json', 'pull', addrOf(s)])
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({ hash: tip })
  }, 60_000)
})
