import { spawnSync } from 'node:child_process'
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { pathToFileURL } from 'node:url'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { writeOutputFile } from '../../../src/util/index.js'

// writeOutputFile's `outside` (output-inside.ts): a write that would land in the data directory,
// by any name of the directory or of its files, is refused with EINSIDE.
describe('writeOutputFile: paths into a directory it keeps out of', () => {
  let dir: string
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'petal-out-')) })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  it('refuses a path that leads into a directory it is told to keep out of, by name, `..`, a symlink or a dangling one; writes beside it (review32)', async () => {
    const keep = join(dir, 'data')
    mkdirSync(join(keep, 'keystore'), { recursive: true })
    const key = join(keep, 'keystore', 'key.json')
    writeFileSync(key, 'secret\n')
    symlinkSync(key, join(dir, 'to-key'))
    symlinkSync(join(keep, 'keystore'), join(dir, 'keys'))
    symlinkSync(join(keep, 'made.json'), join(dir, 'dangling'))
    // keys/.. is data/ for the kernel; Node's path.resolve would make it dir/ by the text.
    for (const p of [key, join(keep, 'new.json'), keep, join(dir, 'to-key'), `${join(dir, 'keys')}/../x.json`, join(dir, 'dangling'), `${dir}/./data/keystore/../keystore/key.json`]) {
      const err = await writeOutputFile(p, 'note\n', { outside: [keep] }).then(() => undefined, (e: unknown) => e)
      expect({ p, code: (err as { code?: string } | undefined)?.code, dir: (err as { dir?: string } | undefined)?.dir }).toEqual({ p, code: 'EINSIDE', dir: realpathSync(keep) })
    }
    expect(readFileSync(key, 'utf8')).toBe('secret\n')
    expect(readdirSync(join(keep, 'keystore'))).toEqual(['key.json'])
    expect(readdirSync(keep).sort()).toEqual(['keystore'])
    await writeOutputFile(join(dir, 'x.json'), 'note\n', { outside: [keep] })
    expect(readFileSync(join(dir, 'x.json'), 'utf8')).toBe('note\n')
  })

  it('refuses a hard link made outside to one of its files, which was written in place: the key file took the note (review33)', async () => {
    const keep = join(dir, 'data')
    mkdirSync(join(keep, 'keystore'), { recursive: true })
    const key = join(keep, 'keystore', 'key.json')
    writeFileSync(key, 'secret\n')
    const backup = join(dir, 'key-backup.json')
    linkSync(key, backup)
    symlinkSync(backup, join(dir, 'to-backup'))
    for (const p of [backup, join(dir, 'to-backup')]) {
      const err = await writeOutputFile(p, 'note\n', { outside: [keep] }).then(() => undefined, (e: unknown) => e)
      expect({ p, code: (err as { code?: string } | undefined)?.code, file: (err as { file?: string } | undefined)?.file }).toEqual({ p, code: 'EINSIDE', file: join(realpathSync(keep), 'keystore', 'key.json') })
    }
    expect(readFileSync(key, 'utf8')).toBe('secret\n')
    // Hard links among the user's own files are still written in place (mend31).
    const mine = join(dir, 'mine.json')
    writeFileSync(mine, 'old\n')
    linkSync(mine, join(dir, 'mine-too.json'))
    await writeOutputFile(mine, 'new\n', { outside: [keep] })
    expect(readFileSync(join(dir, 'mine-too.json'), 'utf8')).toBe('new\n')
  })

  it.skipIf(process.getuid?.() !== 0 || spawnSync('unshare', ['-m', 'true']).status !== 0)('refuses the directory under another name (a bind mount), where no symlink leads (review33; needs root and unshare for a private mount)', () => {
    const keep = join(dir, 'data')
    mkdirSync(keep)
    writeFileSync(join(keep, 'chain.db'), 'index\n')
    const alias = join(dir, 'alias')
    mkdirSync(alias)
    const url = pathToFileURL(srcEntry('util', 'index.ts')).href
    const script = `const { writeOutputFile } = await import(${JSON.stringify(url)})
      for (const p of [${JSON.stringify(join(alias, 'chain.db'))}, ${JSON.stringify(join(alias, 'new.json'))}]) {
        try { await writeOutputFile(p, 'note\\n', { outside: [${JSON.stringify(keep)}] }); console.log('wrote') } catch (err) { console.log(err.code, err.alias) }
      }`
    // In a mount namespace of its own: the bind mount goes with the child.
    const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount --bind "$1" "$2" && shift 2 && exec "$@"', 'sh', keep, alias, process.execPath, ...loaderFor(url), '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    expect(r.stdout.toString().trim().split('\n')).toEqual([`EINSIDE ${alias}`, `EINSIDE ${alias}`])
    expect(readFileSync(join(keep, 'chain.db'), 'utf8')).toBe('index\n')
    expect(readdirSync(keep)).toEqual(['chain.db'])
  })
})
