// `petal append` prints its receipts once the rows are durable, then, beside a node that has taken
// node.lock but not yet said its role, waits up to 3 s to say who seals them. Ctrl-C in that wait
// must not turn the stored append into a failure: a user or script told "interrupted" appends the
// rows again.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../../../src/cli/program.js'
import { Chain } from '../../../src/chain/index.js'
import { Ingest } from '../../../src/ingest/index.js'
import { NodeLock } from '../../../src/storage/index.js'
import { petalInProcess } from '../../helpers/cli.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('append interrupted after its receipts', () => {
  it('Ctrl-C while it waits for a starting node\'s role: exit 0, the rows stored once, the note claims nothing', async () => {
    const dir = join(tmpDir(), 'data')
    expect((await petalInProcess(['--dir', dir, 'init'])).code).toBe(0)
    const csv = join(tmpDir(), 'rows.csv')
    writeFileSync(csv, 'a,b\n1,2\n3,4\n')
    // A node that has taken its lock and not yet written node-state.json.
    const lock = NodeLock.tryAcquire(dir)
    if (lock === undefined) throw new Error('lock not taken')
    const controller = new AbortController()
    let stdout = ''
    let stderr = ''
    const started = Date.now()
    let code: number
    try {
      code = await runCli(['--dir', dir, 'append', 't', csv], {
        // Ctrl-C as soon as the receipts are out.
        stdout: s => { stdout += s; if (stdout.split('\n').filter(l => l !== '').length === 2) controller.abort() },
        stderr: s => { stderr += s },
        env: { PETAL_DIR: undefined, PETAL_PASSPHRASE: undefined, PETAL_LOG_LEVEL: undefined },
        stderrIsTTY: false,
        packageRoot: join(import.meta.dirname, '..', '..', '..')
      }, controller.signal)
    } finally {
      lock.release()
    }
    expect(controller.signal.aborted).toBe(true)
    expect(stderr).not.toContain('interrupted')
    expect(code).toBe(0)
    expect(stderr).toContain('A node seems to be starting here')
    // It stopped waiting at Ctrl-C, not after the whole wait.
    expect(Date.now() - started).toBeLessThan(2_500)
    const again = Chain.open(dir)
    const ingest = Ingest.open({ chain: again, readonly: true })
    try {
      expect(ingest.stats().pendingRows).toBe(2)
    } finally {
      await ingest.close()
      again.close()
    }
  })
})
