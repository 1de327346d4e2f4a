import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { CLI, petal } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

// Under a file-size limit smaller than chain.db's -shm (`ulimit -f 1`), opening the index fails
// with SQLITE_IOERR_SHMSIZE: it was IO_ERROR "the disk failed while reading the chain index", hint
// check the disk and rebuild the index with `petal reindex`, which would not help (review34).
describe('the chain index under a file-size limit', () => {
  it('says to raise the limit or free space, not to reindex; the directory is fine once raised', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petal(['--dir', dir, 'init'])).code).toBe(0)
    const r = spawnSync('bash', ['-c', `ulimit -f 1; "${process.execPath}" "${CLI}" --dir "${dir}" --json blocks`], { encoding: 'utf8' })
    expect(r.status).toBe(4)
    const err = (JSON.parse(r.stdout) as { error: { code: string, hint: string } }).error
    expect(err.hint).toContain('ulimit -f')
    expect(err.hint).not.toContain('reindex')
    expect((await petal(['--dir', dir, 'verify'])).code).toBe(0)
  }, 60_000)
})
