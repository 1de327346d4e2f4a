import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { tmpDir } from './tmp.js'

/**
 * A directory made once for the test file and copied for each test that asks (`cp -r` of a data
 * directory no process holds): a fixture several tests start from, made by CLI runs that cost more
 * than the copy, while each test still changes only its own. Call it at the top level of a test
 * file: helper modules outlive a file where files share a process, the directory does not.
 */
export function copiesOf (make: (dir: string) => Promise<void>, name = 'data'): () => Promise<string> {
  let made: Promise<string> | undefined
  return async () => {
    made ??= (async (dir: string) => { await make(dir); return dir })(join(tmpDir(), name))
    const copy = join(tmpDir(), name)
    cpSync(await made, copy, { recursive: true })
    return copy
  }
}
