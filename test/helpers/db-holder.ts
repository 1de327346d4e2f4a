import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { waitFor } from './wait.js'

/**
 * Another process with the SQLite database at `path` open (read-only, its WAL's -shm mapped and
 * locked as every connection's), until the returned function ends it.
 */
export async function holdOpenElsewhere (path: string): Promise<() => Promise<void>> {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3')
  const code = `const D = require(${JSON.stringify(sqlite)}); const db = new D(${JSON.stringify(path)}, { readonly: true }); db.prepare('SELECT count(*) FROM sqlite_schema').get(); process.stdout.write('open\\n'); setInterval(() => {}, 1e6)`
  const child: ChildProcess = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout?.on('data', (b: Buffer) => { out += b.toString() })
  await waitFor(() => out.includes('open') || child.exitCode !== null, { what: 'the other process to open the database' })
  if (!out.includes('open')) throw new Error('the other process could not open the database')
  return async () => {
    const gone = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGKILL')
    await gone
  }
}
