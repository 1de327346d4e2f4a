// Worker thread for test/unit/util/errors.test.ts: throws what it is asked to.
import { BlockError } from '../../src/block/index.js'
import { serveWorker } from '../../src/util/index.js'

serveWorker<{ kind: 'block' | 'plain' }, never>(req => {
  if (req.kind === 'block') throw new BlockError('BLOCK_TOO_LARGE', 'too large', { hint: 'split it', details: { size: 2 ** 60, maxBytes: 4096, height: 7 } })
  throw new TypeError('plain failure')
})
