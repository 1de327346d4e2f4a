// A process that starts a query sandbox, sets it on a statement that never ends as its first one
// and prints the sandbox's pid: the test kills this process and checks that the orphaned sandbox
// dies. First, because the sandbox's parent watchdog starts with its first statement, while the
// main thread is already blocked in SQLite (src/query/sandbox/child.ts). argv: the data
// directory, then how the sandbox learns of this process's death ('auto' or 'watchdog').
import { QuerySandbox } from '../../src/query/index.js'

const sandbox = new QuerySandbox(process.argv[2] as string, { parentDeath: process.argv[3] === 'watchdog' ? 'watchdog' : 'auto' })
sandbox.start()
const run = sandbox.run({ mode: 'mirror', sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c', format: 'rows', timeoutMs: 0 })
process.stdout.write(`${String(sandbox.pid)}\n`)
await run
