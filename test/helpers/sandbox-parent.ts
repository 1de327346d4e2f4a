// A process that starts a query sandbox, warms it up, sets it on a statement that never ends and
// prints the sandbox's pid: the test kills this process and checks that the orphaned sandbox dies.
import { QuerySandbox } from '../../src/query/index.js'

const sandbox = new QuerySandbox(process.argv[2] as string)
await sandbox.run({ mode: 'mirror', sql: 'SELECT 1', format: 'rows', timeoutMs: 0 })
const run = sandbox.run({ mode: 'mirror', sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c', format: 'rows', timeoutMs: 0 })
process.stdout.write(`${String(sandbox.pid)}\n`)
await run
