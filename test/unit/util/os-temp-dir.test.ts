import { spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ownTempDir, pidNamespace, removeDeadTempDirs } from '../../../src/util/index.js'
import { tmpDir } from '../../helpers/tmp.js'

// ownTempDir's directories in the system's temporary directory (session 44): the next one of a kind
// removes those of dead writers of that kind, by tempAbandoned's rule, and nothing else.

let base: string
let saved: string | undefined
beforeEach(() => { saved = process.env.TMPDIR; base = tmpDir(); process.env.TMPDIR = base })
afterEach(() => { if (saved === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = saved })

const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid as number
const DAY_AGO = (Date.now() - 25 * 3600_000) / 1000

describe('ownTempDir', () => {
  it('names the directory by pid and namespace, and removes a dead writer\'s, an old one of another namespace and an old unnamed one', () => {
    const ns = pidNamespace()
    const make = (name: string, old = false): string => { const d = join(base, name); mkdirSync(d); if (old) utimesSync(d, DAY_AGO, DAY_AGO); return name }
    const gone = [make(`petal-snapshot-${deadPid()}-n${ns}-aaaaaa`), make(`petal-snapshot-${deadPid()}-bbbbbb`), make('petal-snapshot-7-n1-cccccc', true), make('petal-snapshot-dddddd', true),
      make(`petal-snapshot-${deadPid()}-n0-llllll`, true)]
    const kept = [make(`petal-snapshot-${process.pid}-n${ns}-eeeeee`), make('petal-snapshot-7-n1-ffffff'), make('petal-snapshot-gggggg'),
      // n0: a writer that could not read its namespace; its pid is judged nowhere, its age everywhere.
      make(`petal-snapshot-${deadPid()}-n0-mmmmmm`),
      make(`petal-export-${deadPid()}-n${ns}-hhhhhh`), make(`petal-snapshotx-${deadPid()}-n${ns}-iiiiii`)]
    // A symbolic link of that name is never followed nor removed; nor another user's directory.
    const target = tmpDir()
    const link = `petal-snapshot-${deadPid()}-n${ns}-jjjjjj`
    symlinkSync(target, join(base, link))
    kept.push(link)
    const theirs = process.getuid?.() === 0 ? make(`petal-snapshot-${deadPid()}-n${ns}-kkkkkk`) : undefined
    if (theirs !== undefined) chownSync(join(base, theirs), 65534, 65534)
    const dir = ownTempDir('petal-snapshot')
    expect(dir).toMatch(new RegExp(`/petal-snapshot-${process.pid}-n${ns}-[A-Za-z0-9]{6}$`))
    const left = readdirSync(base)
    for (const n of gone) expect(left, n).not.toContain(n)
    for (const n of kept) expect(left, n).toContain(n)
    expect(existsSync(target)).toBe(true)
    if (theirs !== undefined) expect(left).toContain(theirs)
    // This process's own is never removed by its own next one.
    expect(removeDeadTempDirs('petal-snapshot')).toEqual([])
    rmSync(dir, { recursive: true })
  })
})
