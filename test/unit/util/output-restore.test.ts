import { spawnSync } from 'node:child_process'
import { linkSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { pathToFileURL } from 'node:url'
import { loaderFor, srcEntry } from '../../helpers/src-entry.js'
import { outputFileFailure } from '../../../src/cli/output-failure.js'

interface Outcome { code?: string, damaged?: { path: string, size: number, lost: string } }

/**
 * writeOutputFile(`file`, `bytes` bytes) in a process under a file-size limit of 8 KiB
 * (RLIMIT_FSIZE: sh counts 512-byte blocks; Node ignores SIGXFSZ): a write past it fails with EFBIG, as on a full disk.
 */
function writeUnderLimit (file: string, bytes: number): Outcome {
  const url = pathToFileURL(srcEntry('util', 'index.ts')).href
  const script = `const { writeOutputFile } = await import(${JSON.stringify(url)})
    try { await writeOutputFile(${JSON.stringify(file)}, 'x'.repeat(${bytes})); console.log('{}') } catch (err) { console.log(JSON.stringify({ code: err.code, damaged: err.damaged })) }`
  const r = spawnSync('sh', ['-c', 'ulimit -f 16 && exec "$@"', 'sh', process.execPath, ...loaderFor(url), '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  return JSON.parse(r.stdout.toString()) as Outcome
}

// A write in place (a file with other hard links) that fails puts the old content back (review32);
// where it could not, the error was the write's alone ("EFBIG", "the disk is full"), and nothing
// told the user that the file, under each of its names, now held part of the new text (mend34).
describe('writeOutputFile: a write in place whose old content cannot be put back', () => {
  let dir: string
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'petal-restore-')) })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  it('the restore fails too (the old content is past the limit): the error says the file is damaged, its size and why', () => {
    const f = join(dir, 'linked.note')
    writeFileSync(f, 'o'.repeat(20 << 10))
    linkSync(f, join(dir, 'other-name'))
    const r = writeUnderLimit(f, 64 << 10)
    expect(r).toEqual({ code: 'EFBIG', damaged: { path: f, size: 8 << 10, lost: 'putting it back failed too: EFBIG' } })
    expect(statSync(join(dir, 'other-name')).size).toBe(8 << 10)
  })

  it('the old content was too large to keep (over 64 MiB): damaged, and said so', () => {
    const f = join(dir, 'big.note')
    writeFileSync(f, '')
    truncateSync(f, (64 << 20) + 1)
    linkSync(f, join(dir, 'other-name'))
    const r = writeUnderLimit(f, 64 << 10)
    expect(r).toEqual({ code: 'EFBIG', damaged: { path: f, size: 8 << 10, lost: 'larger than 64 MiB, it was not kept' } })
  })

  it('a restore that works: no damage reported, the file as it was', () => {
    const f = join(dir, 'linked.note')
    writeFileSync(f, 'old content\n')
    linkSync(f, join(dir, 'other-name'))
    expect(writeUnderLimit(f, 64 << 10)).toEqual({ code: 'EFBIG' })
    expect(readFileSync(f, 'utf8')).toBe('old content\n')
  })

  it('the CLI\'s failure names the damaged file, what it holds, and says to restore it from a backup', () => {
    const err = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', damaged: { path: '/x/linked.note', size: 4096, lost: 'putting it back failed too: ENOSPC' } })
    const u = outputFileFailure('linked.note', err, 'choose a path in a directory you can write')
    expect(u.message).toBe('cannot write linked.note: ENOSPC: no space left on device, write; /x/linked.note, written in place (it has other hard links, or could not be replaced by a new file), now holds 4096 bytes, neither its old content nor the new, and its old content could not be put back (putting it back failed too: ENOSPC)')
    expect(u.hint).toBe('/x/linked.note is damaged under every name it has: restore it from a backup if its old content mattered; then free space on its disk (or this user\'s quota) and run the command again, which writes it whole')
  })
})
