import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Chain } from '../../../src/chain/index.js'
import {
  addCosignature, addWitness, findCheckpoint, keepReceivedCheckpoint, knownWitnesses, listWitnesses, removeWitness, signTipCheckpoints,
  witnessesFileProblem, witnessKeyOf, WITNESSES_FILE
} from '../../../src/proof/index.js'
import { createLogger, type LogRecord } from '../../../src/util/index.js'
import { extendChain, fixtureKey, newTestChain } from '../../helpers/chain.js'
import { tmpDir } from '../../helpers/tmp.js'
import { NodeLock } from '../../../src/storage/index.js'

// The data directory's `witnesses` file (docs/proofs.md, "Which cosignatures a node keeps"): what
// `petal witnesses add|remove` write, and what a running node does with a file made malformed
// ("The witnesses file while a node runs").

const alice = fixtureKey('alice')
const w1 = { name: 'witness.example/w1', key: fixtureKey('carol') }
const w2 = { name: 'witness.example/w2', key: fixtureKey('bob') }

describe('the witnesses file made malformed while a node runs', () => {
  it('keeps the last good list in use, warns once a change, and takes the file again once corrected', async () => {
    const { chain: made, dir } = await newTestChain({ key: alice, consensus: { maxReorgDepth: 1 } })
    await extendChain(made, alice, 2, 2)
    const final = (await signTipCheckpoints(made, alice))[1] ?? ''
    made.close()
    const logs: LogRecord[] = []
    const chain = Chain.open(dir, { logger: createLogger(r => { logs.push(r) }, 'info') })
    const file = join(dir, WITNESSES_FILE)
    writeFileSync(file, `${await witnessKeyOf(w1)}\n`)
    expect(knownWitnesses(chain).map(w => w.name)).toEqual([w1.name])
    // The operator's edit goes wrong: a key cut short.
    writeFileSync(file, `${await witnessKeyOf(w1)}\n${(await witnessKeyOf(w2)).slice(0, 60)}\n`)
    expect(knownWitnesses(chain).map(w => w.name)).toEqual([w1.name])
    expect(knownWitnesses(chain).map(w => w.name)).toEqual([w1.name])
    const warned = logs.filter(r => r.level === 'warn')
    expect(warned.map(r => r.message)).toEqual(['the witnesses file is not taken: keeping the witnesses listed before'])
    expect(String(warned[0]?.context?.error)).toContain(`${file} line 2`)
    expect(witnessesFileProblem(dir)?.message).toContain(`${file} line 2`)
    // A cosignature of the listed witness received now is kept (until session 51 the receipt threw
    // PROOF_WITNESSES_INVALID, logged at debug level only, and nothing was kept).
    expect(await keepReceivedCheckpoint(chain, addCosignature(final, w1, 1_700_000_000), 'peer')).toBe(true)
    expect(findCheckpoint(chain, { final: true })?.note).toContain(`— ${w1.name} `)
    // Corrected: taken at once, the problem gone, no second warning.
    writeFileSync(file, `# both\n${await witnessKeyOf(w1)}\n${await witnessKeyOf(w2)}\n`)
    expect(knownWitnesses(chain).map(w => w.name)).toEqual([w1.name, w2.name])
    expect(witnessesFileProblem(dir)).toBeUndefined()
    expect(logs.filter(r => r.level === 'warn').length).toBe(1)
    expect(logs.some(r => r.message === 'read the witnesses file again')).toBe(true)
    chain.close()
  })
})

describe('petal witnesses add | remove: the file\'s edits', () => {
  it('adds at the end and removes by name or key, keeping comments, order and the file\'s mode; refuses a listed name and an unlisted one', async () => {
    const dir = tmpDir()
    const file = join(dir, WITNESSES_FILE)
    const k1 = await witnessKeyOf(w1)
    const k2 = await witnessKeyOf(w2)
    expect(listWitnesses(dir)).toEqual([])
    writeFileSync(file, `# our witnesses\n${k1}  # w1, since May`)
    chmodSync(file, 0o600)
    expect(await addWitness(dir, k2)).toMatchObject({ name: w2.name, line: 3 })
    expect(readFileSync(file, 'utf8')).toBe(`# our witnesses\n${k1}  # w1, since May\n${k2}\n`)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(listWitnesses(dir).map(w => [w.name, w.line])).toEqual([[w1.name, 2], [w2.name, 3]])
    // One key a name: the same key again, or another key under a listed name.
    await expect(addWitness(dir, k2)).rejects.toThrow(expect.objectContaining({ code: 'PROOF_WITNESS_LISTED', hint: 'nothing to do: `petal witnesses list` shows it' }))
    const other = await witnessKeyOf({ name: w2.name, key: fixtureKey('alice') })
    await expect(addWitness(dir, other)).rejects.toThrow(expect.objectContaining({ code: 'PROOF_WITNESS_LISTED', hint: `to replace its key, remove the old one first: \`petal witnesses remove ${w2.name}\`, then add the new one` }))
    // Not a witness's key: the reason, nothing written.
    expect(await addWitness(dir, k1.replace(/\+[0-9a-f]{8}\+/, '+00000000+'))).toMatch(/does not match the key/)
    expect((await removeWitness(dir, w1.name)).map(w => w.line)).toEqual([2])
    expect(readFileSync(file, 'utf8')).toBe(`# our witnesses\n${k2}\n`)
    await expect(removeWitness(dir, w1.name)).rejects.toThrow(expect.objectContaining({ code: 'PROOF_WITNESS_NOT_LISTED' }))
    expect((await removeWitness(dir, k2)).map(w => w.name)).toEqual([w2.name])
    expect(readFileSync(file, 'utf8')).toBe('# our witnesses\n')
    // A malformed file is refused as a node refuses it, naming the line; nothing written.
    writeFileSync(file, `${k1}\nnot a key\n`)
    await expect(addWitness(dir, k2)).rejects.toThrow(expect.objectContaining({ code: 'PROOF_WITNESSES_INVALID' }))
    expect(readFileSync(file, 'utf8')).toBe(`${k1}\nnot a key\n`)
  })

  // A node reads a `witnesses` link's file (stat and read follow links): an edit replaced the link
  // with a file of its own, leaving the list it named (shared by nodes, kept by the operator's
  // tools) without the change, and this directory apart from it, silently (review52).
  it('a `witnesses` that is a link: the file it names is edited, and the link stays', async () => {
    const dir = tmpDir()
    const shared = join(tmpDir(), 'witnesses.shared')
    const link = join(dir, WITNESSES_FILE)
    const k1 = await witnessKeyOf(w1)
    const k2 = await witnessKeyOf(w2)
    writeFileSync(shared, `# shared list\n${k1}\n`)
    chmodSync(shared, 0o640)
    symlinkSync(shared, link)
    expect(listWitnesses(dir).map(w => w.name)).toEqual([w1.name])
    expect(await addWitness(dir, k2)).toMatchObject({ name: w2.name, line: 3 })
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readFileSync(shared, 'utf8')).toBe(`# shared list\n${k1}\n${k2}\n`)
    expect(statSync(shared).mode & 0o777).toBe(0o640)
    expect((await removeWitness(dir, w1.name)).map(w => w.line)).toEqual([2])
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readFileSync(shared, 'utf8')).toBe(`# shared list\n${k2}\n`)
    // A link that leads nowhere yet: the file it names is made, where a node would read it.
    const later = join(tmpDir(), 'later')
    const dir2 = tmpDir()
    symlinkSync(later, join(dir2, WITNESSES_FILE))
    expect(listWitnesses(dir2)).toEqual([])
    await addWitness(dir2, k1)
    expect(lstatSync(join(dir2, WITNESSES_FILE)).isSymbolicLink()).toBe(true)
    expect(readFileSync(later, 'utf8')).toBe(`${k1}\n`)
  })

  // The lock of an edit through a link is `FILE.lock` beside the file the link leads to (review52b):
  // a link that led nowhere yet was followed one hop, lexically (session 53's left, locks54).
  it('a `witnesses` link leading nowhere yet, by a chain of links or a `..` out of a directory named through a link: the edit locks and writes the real file', async () => {
    const k1 = await witnessKeyOf(w1)
    const share = tmpDir()
    const later = join(share, 'later')
    // One directory's link straight to the list, another's through a second link.
    const [d1, d2] = [tmpDir(), tmpDir()]
    symlinkSync(later, join(d1, WITNESSES_FILE))
    const hop = join(tmpDir(), 'hop')
    symlinkSync(later, hop)
    symlinkSync(hop, join(d2, WITNESSES_FILE))
    // The list's lock held (an edit through d1 under way): the edit through d2 waits for it.
    const held = NodeLock.tryAcquire(share, 'later.lock')
    expect(held).toBeDefined()
    const stop = new AbortController()
    let waited = false
    const edit = addWitness(d2, k1, { signal: stop.signal, onWait: () => { waited = true; stop.abort() } })
    // Before: it locked hop.lock and went on, replacing the link `hop` by a file.
    await expect(edit).rejects.toThrow()
    held?.release()
    expect(waited).toBe(true)
    expect(lstatSync(hop).isSymbolicLink()).toBe(true)
    expect(await addWitness(d2, k1)).toMatchObject({ name: w1.name, line: 1 })
    expect(lstatSync(hop).isSymbolicLink()).toBe(true)
    expect(readFileSync(later, 'utf8')).toBe(`${k1}\n`)
    expect(listWitnesses(d1).map(w => w.name)).toEqual([w1.name])
    // A data directory named through a link, its `witnesses` a relative link out of it (`..`): the
    // kernel reads `..` from the real directory. Before: PROOF_WITNESSES_LINK_NOWHERE, naming the alias's.
    const real = join(tmpDir(), 'real')
    mkdirSync(join(real, 'data'), { recursive: true })
    mkdirSync(join(real, 'lists'))
    symlinkSync(join('..', 'lists', 'w'), join(real, 'data', WITNESSES_FILE))
    const alias = join(tmpDir(), 'alias')
    symlinkSync(join(real, 'data'), alias)
    expect(await addWitness(alias, k1)).toMatchObject({ name: w1.name, line: 1 })
    expect(readFileSync(join(real, 'lists', 'w'), 'utf8')).toBe(`${k1}\n`)
    expect(listWitnesses(alias).map(w => w.name)).toEqual([w1.name])
  })

  // A link's target with a `..` after a linked directory (`sub/../w`, `sub` a link to other/a/b): the
  // kernel takes the `..` from the linked directory (other/a/w); node:fs's realpathSync and resolve()
  // take it lexically (data/w). `add` wrote data/w and said listed, while the list the node reads
  // through the link stayed empty (review54b), whether other/a/w was there yet or not.
  it('a `witnesses` link whose target climbs `..` out of a linked directory: the edit writes the file the kernel opens', async () => {
    const k1 = await witnessKeyOf(w1)
    for (const there of [false, true]) {
      const root = tmpDir()
      mkdirSync(join(root, 'data'))
      mkdirSync(join(root, 'other', 'a', 'b'), { recursive: true })
      if (there) writeFileSync(join(root, 'other', 'a', 'w'), '')
      symlinkSync(join(root, 'other', 'a', 'b'), join(root, 'data', 'sub'))
      symlinkSync('sub/../w', join(root, 'data', WITNESSES_FILE))
      expect(await addWitness(join(root, 'data'), k1)).toMatchObject({ name: w1.name, line: 1 })
      expect(readFileSync(join(root, 'other', 'a', 'w'), 'utf8'), `list there before: ${there}`).toBe(`${k1}\n`)
      expect(existsSync(join(root, 'data', 'w'))).toBe(false)
      expect(listWitnesses(join(root, 'data')).map(w => w.name)).toEqual([w1.name])
    }
  })

  // writeFileAtomic made the directories of a link's file as well: a link into a share not mounted
  // (or mistyped) got a list on this machine's disk under the mount point, which the nodes sharing
  // the list never read, and `add` said it was listed (health53; docs/cli.md, `petal witnesses`).
  it('a `witnesses` link into a directory that is not there: refused with a code, nothing made; the hint, run, mends it', async () => {
    const dir = tmpDir()
    const share = join(tmpDir(), 'share')
    symlinkSync(join(share, 'witnesses'), join(dir, WITNESSES_FILE))
    const k1 = await witnessKeyOf(w1)
    let err: { code?: string, message?: string, hint?: string } = {}
    try { await addWitness(dir, k1) } catch (e) { err = e as typeof err }
    expect(err.code).toBe('PROOF_WITNESSES_LINK_NOWHERE')
    expect(err.message).toContain(`whose directory ${share} does not exist`)
    expect(err.hint).toContain(`\`mkdir -p ${share}\``)
    expect(existsSync(share)).toBe(false)
    await expect(removeWitness(dir, w1.name)).rejects.toThrow(expect.objectContaining({ code: 'PROOF_WITNESSES_LINK_NOWHERE' }))
    mkdirSync(share, { recursive: true })
    expect(await addWitness(dir, k1)).toMatchObject({ name: w1.name, line: 1 })
    expect(readFileSync(join(share, 'witnesses'), 'utf8')).toBe(`${k1}\n`)
    expect(lstatSync(join(dir, WITNESSES_FILE)).isSymbolicLink()).toBe(true)
  })
})
