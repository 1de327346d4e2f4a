import { chmodSync, mkdirSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Chain } from '../../../src/chain/index.js'
import { knownWitnesses, listWitnesses, witnessesFileProblem, witnessKeyOf, WITNESSES_FILE } from '../../../src/proof/index.js'
import { createLogger, shellWord, type LogRecord } from '../../../src/util/index.js'
import { fixtureKey, newTestChain } from '../../helpers/chain.js'
import { otherUserCanRun, runAsOtherUserWith } from '../../helpers/other-user.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'

// A `witnesses` file that cannot be read (user52; review51b and witness51 left it): a directory
// there threw a bare EISDIR (the CLI: PATH_CONFLICT, "check the paths you gave"), a stat that
// fails (EACCES on the directory, ELOOP) a bare error at each use, even in a node that had read a
// good list before.

const alice = fixtureKey('alice')
const w1 = { name: 'witness.example/w1', key: fixtureKey('carol') }
const code = (f: () => unknown): unknown => { try { f(); return 'no error' } catch (e) { return (e as { code?: string }).code } }

/** `petal witnesses list`'s read of `dir` by the other user: the error it met (code, message, hint). */
function listedAsOther (dir: string): { code: string, message: string, hint: string } {
  const proof = srcEntry('proof', 'index.ts')
  const r = runAsOtherUserWith(loaderFor(proof), `const { listWitnesses } = await import(${JSON.stringify(proof)})
    try { listWitnesses(process.argv[1]); console.log('read') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })) }`, dir)
  expect(r.stderr).toBe('')
  return JSON.parse(r.stdout) as { code: string, message: string, hint: string }
}

describe('a witnesses file that cannot be read', () => {
  it('a directory there: PROOF_WITNESSES_UNREADABLE, whose hint (move it out of the way) mends it', () => {
    const dir = tmpDir()
    mkdirSync(join(dir, WITNESSES_FILE))
    let err: { code?: string, message?: string, hint?: string } = {}
    try { listWitnesses(dir) } catch (e) { err = e as typeof err }
    expect(err.code).toBe('PROOF_WITNESSES_UNREADABLE')
    expect(err.message).toContain('is a directory')
    expect(err.hint).toContain('move it out of the way')
    rmdirSync(join(dir, WITNESSES_FILE))
    expect(listWitnesses(dir)).toEqual([])
  })

  it('a node that read a good list keeps it while the file cannot even be looked at, warns once, and takes it back', async () => {
    const { chain: made, dir } = await newTestChain({ key: alice })
    made.close()
    const logs: LogRecord[] = []
    const chain = Chain.open(dir, { logger: createLogger(r => { logs.push(r) }, 'info') })
    const file = join(dir, WITNESSES_FILE)
    const vkey = await witnessKeyOf(w1)
    writeFileSync(file, `${vkey}\n`)
    expect(knownWitnesses(chain).map(w => w.name)).toEqual([w1.name])
    // A symbolic link to itself: its stat fails (ELOOP), as one in a directory this user may not search does (EACCES).
    rmSync(file)
    symlinkSync(WITNESSES_FILE, file)
    expect(knownWitnesses(chain).map(w => w.name)).toEqual([w1.name])
    expect(knownWitnesses(chain).map(w => w.name)).toEqual([w1.name])
    expect(logs.filter(r => r.level === 'warn').map(r => r.message)).toEqual(['the witnesses file is not taken: keeping the witnesses listed before'])
    expect(witnessesFileProblem(dir)?.message).toContain(file)
    rmSync(file)
    writeFileSync(file, `${vkey}\n`)
    expect(knownWitnesses(chain).map(w => w.name)).toEqual([w1.name])
    expect(witnessesFileProblem(dir)).toBeUndefined()
    // A command (no list read before) is told, with a code.
    rmSync(file)
    symlinkSync(WITNESSES_FILE, file)
    expect(code(() => listWitnesses(dir))).toBe('PATH_CONFLICT')
    chain.close()
  })

  it.skipIf(!otherUserCanRun)('a file this user may not read: PROOF_WITNESSES_UNREADABLE, whose hint names the file, its directory and the user to run as', () => {
    const dir = tmpDir()
    chmodSync(dir, 0o755)
    const file = join(dir, WITNESSES_FILE)
    writeFileSync(file, '# none yet\n')
    chmodSync(file, 0o000)
    const e = listedAsOther(dir)
    expect(e.code).toBe('PROOF_WITNESSES_UNREADABLE')
    expect(e.message).toContain(`cannot read ${file}: permission denied`)
    expect(e.hint).toContain(`ls -ld ${dir} ${file}`)
  })

  // A `witnesses` link to a list in a directory this user may not search (review53): the hint named
  // the data directory and the link, which this user may read and search, and its `ls -ld` showed
  // nothing wrong; it names the list the link leads to and that list's directory.
  it.skipIf(!otherUserCanRun)('a link to a list this user may not reach: the hint names the list and its directory, not the data directory', () => {
    const dir = tmpDir()
    chmodSync(dir, 0o755)
    const top = tmpDir()
    chmodSync(top, 0o755)
    const shared = join(top, 'shared')
    mkdirSync(shared)
    writeFileSync(join(shared, 'list'), '# none yet\n')
    chmodSync(shared, 0o700)
    symlinkSync(join(shared, 'list'), join(dir, WITNESSES_FILE))
    const e = listedAsOther(dir)
    expect(e.code).toBe('PROOF_WITNESSES_UNREADABLE')
    expect(e.message).toContain(`a link to ${join(shared, 'list')}`)
    expect(e.hint).toContain(`to search ${shared}`)
    expect(e.hint).toContain(`ls -ld ${shared} ${join(shared, 'list')}`)
    expect(e.hint).not.toContain(`ls -ld ${dir}`)
  })

  // The hint's command, with a path holding a space: `ls -ld /tmp/my data/witnesses` lists other
  // files, or none (review53b).
  it.skipIf(!otherUserCanRun)('its `ls -ld` quotes a path the shell would split', () => {
    const top = tmpDir()
    chmodSync(top, 0o755)
    const dir = join(top, 'my data')
    mkdirSync(dir, { mode: 0o755 })
    const file = join(dir, WITNESSES_FILE)
    writeFileSync(file, '# none yet\n')
    chmodSync(file, 0o000)
    const e = listedAsOther(dir)
    expect(e.code).toBe('PROOF_WITNESSES_UNREADABLE')
    expect(e.hint).toContain(`(ls -ld ${shellWord(dir)} ${shellWord(file)})`)
  })
})
