// A process that starts a query sandbox, sets it on a statement that never ends as its first one
// and prints the sandbox's pid: the test kills this process and checks that the orphaned sandbox
// dies. First, because the sandbox's parent watchdog starts with its first statement, while the
// main thread is already blocked in SQLite (src/query/sandbox/child.ts). argv: the data
// directory, how the sandbox learns of this process's death ('auto' or 'watchdog'), and the file
// the sandbox runs for src/query/sandbox/child.ts (the test process's bundle of it: src-entry.ts's
// entryKeepingMeta), if any.
import { QuerySandbox } from '../../src/query/index.js'
import { setTypeScriptBundler } from '../../src/util/index.js'

const childFile = process.argv[4]
if (childFile !== undefined) {
  setTypeScriptBundler(url => {
    if (!url.endsWith('/query/sandbox/child.ts')) throw new Error(`sandbox-parent.ts has no bundle of ${url}`)
    return childFile
  })
}

const sandbox = new QuerySandbox(process.argv[2] as string, { parentDeath: process.argv[3] === 'watchdog' ? 'watchdog' : 'auto' })
sandbox.start()
const run = sandbox.run({ mode: 'mirror', sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c', format: 'rows', timeoutMs: 0 })
process.stdout.write(`${String(sandbox.pid)}\n`)
await run
