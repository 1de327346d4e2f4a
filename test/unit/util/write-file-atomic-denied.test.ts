import { spawnSync } from 'node:child_process'
import { chmodSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { asRoot, otherUserCanRun, runAsOtherUserWith } from '../../helpers/other-user.js'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { tmpDir } from '../../helpers/tmp.js'

// writeFileAtomic (src/util/fs.ts) refused by permissions: its error named its temporary
// (`FILE.n….tmp`, gone by then), and the CLI's hint (systemFailure) said to check that file's
// owner and mode. A hint names what the user can change: the directory where no file may be made,
// the file a sticky directory keeps another user from replacing (health53).

interface Said { code: string, path: string, message: string, hint: string }

/** writeFileAtomic of each of `paths` as another user: what systemFailure makes of each refusal. */
function writeAsOther (...paths: string[]): Array<Said | 'written'> {
  const util = srcEntry('util', 'index.ts')
  const storage = srcEntry('storage', 'index.ts')
  const r = runAsOtherUserWith(loaderFor(util, storage), `const { writeFileAtomic } = await import(${JSON.stringify(util)})
    const { systemFailure } = await import(${JSON.stringify(storage)})
    for (const p of process.argv.slice(1)) {
      try { writeFileAtomic(p, 'x\\n'); console.log('"written"') } catch (e) { const f = systemFailure(e); console.log(JSON.stringify({ code: f.code, path: e.path, message: f.message, hint: f.hint })) }
    }`, ...paths)
  expect(r.stderr).toBe('')
  return r.stdout.split('\n').map(l => JSON.parse(l) as Said | 'written')
}

describe.skipIf(!otherUserCanRun)('writeFileAtomic refused by permissions', () => {
  it('names the directory no file may be made in (not the temporary), and its hint is true: the directory made writable, the write succeeds', () => {
    const dir = tmpDir()
    chmodSync(dir, 0o755)
    const file = join(dir, 'state.json')
    const [e, nested] = writeAsOther(file, join(dir, 'sub', 'state.json')) as [Said, Said]
    expect(e.code).toBe('PERMISSION_DENIED')
    expect(e.path).toBe(dir)
    expect(e.message).toContain(`cannot create a file in '${dir}' to write '${file}'`)
    expect(e.message).not.toContain('.tmp')
    // Since session 55 with the command that fixes it (writeRefusal), run below.
    const fix = asRoot ? `chown nobody ${dir}` : `chmod u+w ${dir}`
    expect(e.hint).toBe(`${asRoot ? 'as root, give it to this user:' : 'run'} \`${fix}\` (\`ls -ld ${dir}\` shows its owner and mode), or run Petal as a user who may write it`)
    // A directory mkdir was refused: the hint names the one above it, which is there to be changed.
    expect(nested.code).toBe('PERMISSION_DENIED')
    expect(nested.hint).toBe(e.hint)
    expect(readdirSync(dir)).toEqual([])
    expect(spawnSync('sh', ['-c', fix]).status).toBe(0)
    expect(writeAsOther(file, join(dir, 'sub', 'state.json'))).toEqual(['written', 'written'])
  })

  it('names the file a sticky directory keeps it from replacing', () => {
    const dir = tmpDir()
    chmodSync(dir, 0o1777)
    const file = join(dir, 'state.json')
    writeFileSync(file, 'root\'s\n')
    chmodSync(file, 0o644) // as the umask made it: the hint's chown is what lets this user replace it
    const [e] = writeAsOther(file) as [Said]
    expect(e.code).toBe('PERMISSION_DENIED')
    expect(e.path).toBe(file)
    expect(e.message).toContain(`cannot replace '${file}'`)
    expect(e.hint).toBe(`as root, give it to this user: \`chown nobody ${file}\` (\`ls -l ${file}\` shows its owner and mode), or run Petal as a user who may write it`)
    expect(readdirSync(dir)).toEqual(['state.json'])
  })
})
