import { cpSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Chain, reindexChain } from '../../src/chain/index.js'
import { tmpDir } from './tmp.js'

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures')

export interface FixtureEntry { file: string, code: string, why: string, expectedHash?: string, genesis?: boolean }

export function fixtureManifest (): FixtureEntry[] {
  return JSON.parse(readFileSync(join(FIXTURES, 'blocks', 'manifest.json'), 'utf8')) as FixtureEntry[]
}

/** A private copy of the committed fixture chain (5 blocks, majority quorum), indexed. */
export async function openFixtureChain (): Promise<Chain> {
  const dir = join(tmpDir(), 'fixture-chain')
  cpSync(join(FIXTURES, 'chain'), dir, { recursive: true })
  await reindexChain(dir, { workers: 1 })
  return Chain.open(dir)
}
