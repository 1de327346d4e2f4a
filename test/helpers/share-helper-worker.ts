// A thread that only helps others hash their tables (block/shared-roots.ts), as an idle verify
// worker does; it answers any message with how many chunks it hashed so far.
import { parentPort, workerData } from 'node:worker_threads'
import { TableShare } from '../../src/block/index.js'

const port = parentPort
if (port === null) throw new Error('a worker thread only')
const share = new TableShare(String((workerData as { name: string }).name))
port.on('message', () => { port.postMessage(share.helped) })
port.postMessage('ready')
