// A crashed init or first pull leaves the temporaries of its atomic writes (chainparams.json's,
// writer.json's, journal.json's) in the data directory: leftovers that the next pull removes, in
// the names they have had since session 51 (`<file>.n<ns>.<pid>[.<hex>].tmp`, util/stale-temps.ts)
// as in the older ones. A pull killed while writing writer.json was refused DATA_DIR_NOT_EMPTY on
// its resume (pull52's crash torture, seed 5210; docs/performance/pull.md, "Session 52: the manifest's
// leaves four at a time with SHA-NI (pull52)").
import { describe, expect, it } from 'vitest'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { prepareEmptyDir } from '../../../src/chain/index.js'
import { DataDir } from '../../../src/storage/index.js'
import { atomicTempPath, tempTag } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('prepareEmptyDir', () => {
  it('removes the temporaries of a crashed init\'s atomic writes, in the names this version and older ones give them', () => {
    const root = tmpDir()
    const temps = [
      `writer.json.${tempTag()}.tmp`,
      basename(atomicTempPath(join(root, 'chainparams.json'))),
      'writer.json.n4026531836.20614.tmp',
      'journal.json.n0.77.0badc0de.tmp',
      'chainparams.json.99999.0badc0de.tmp',
      'writer.json.4242.tmp',
      // A first pull killed while writing its node identity (review55's crash torture, seed 5522).
      'node.key.n4026531836.30959.0be0624b.tmp'
    ]
    mkdirSync(join(root, 'tmp'))
    for (const t of temps) writeFileSync(join(root, t), '{')
    prepareEmptyDir(new DataDir(root))
    expect(readdirSync(root)).toEqual([])
  })

  it('still refuses a directory with a file that is not such a temporary', () => {
    const root = tmpDir()
    for (const t of ['writer.json.n4026531836.20614.tmp', 'notes.json.n1.2.tmp']) writeFileSync(join(root, t), '{')
    expect(() => { prepareEmptyDir(new DataDir(root)) }).toThrow(expect.objectContaining({ code: 'DATA_DIR_NOT_EMPTY' }))
    expect(existsSync(join(root, 'writer.json.n4026531836.20614.tmp'))).toBe(true)
  })
})
