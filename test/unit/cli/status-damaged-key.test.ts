import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { petalInProcess } from '../../helpers/cli.js'
import { tmpDir } from '../../helpers/tmp.js'

// A damaged key file (truncated by a full disk, an editor) stopped `petal status` whole with
// KEY_FILE_INVALID (user50, an operator's day): the chain, the node and the pending rows could not
// be looked at. status now shows them, and says on the `my keys` line which file is damaged.
it('petal status answers beside a damaged key file, naming it with the hint; mykeys still stops at it', async () => {
  const dir = join(tmpDir(), 'd')
  expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
  const file = join(dir, 'keystore', readdirSync(join(dir, 'keystore')).find(f => f.endsWith('.json')) ?? '')
  writeFileSync(file, '{"id": "1:')
  const s = await petalInProcess(['--dir', dir, 'status'])
  expect(s.code, s.stderr).toBe(0)
  expect(s.stdout).toMatch(/^blocks {6}1$/m)
  expect(s.stdout).toMatch(/^my keys {5}cannot read the keystore: key file .* is not valid JSON .*\[KEY_FILE_INVALID\]$/m)
  expect(s.stdout).toMatch(/^ {12}move it out of .*keys import FILE/m)
  const j = await petalInProcess(['--dir', dir, '--json', 'status'])
  expect(j.code, j.stderr).toBe(0)
  expect(JSON.parse(j.stdout)).toMatchObject({ blocks: 1, my_keys: [], my_keys_error: { code: 'KEY_FILE_INVALID' } })
  // The hint's list of the commands that stop at the file is true.
  const m = await petalInProcess(['--dir', dir, 'mykeys'])
  expect(m.stderr).toContain('[KEY_FILE_INVALID]')
  expect(m.stderr).toContain('`petal --dir')
}, 60_000)
