// Two nodes of one chain in a process of their own, connected to each other, the first with its
// HTTP API and an open GET /events client: both stopped, then what is left to keep this process
// alive (process.getActiveResourcesInfo(): ref'd timers, sockets, servers) and which of the timers'
// holders stop-timers.ts found on the running first node are printed as JSON ({ left, reached }).
//   node --import tsx test/helpers/stopped-node.ts   (stop-timers.test.ts runs its bundle: src-entry.ts)
import '../../src/polyfills.js'
import { request } from 'node:http'
import { stopTimersReached } from '../../src/network/stop-timers.js'
import { PetalNode } from '../../src/node/index.js'
import { newTestChain } from './chain.js'
import { addrOf, cloneGenesis, fastOptions } from './network.js'
import { removeTmpDirs } from './tmp.js'
import { waitFor } from './wait.js'

// A key of its own (newTestChain's): fixtureKey reads test/fixtures beside this file, which its
// bundle (stop-timers.test.ts runs one: src-entry.ts) is not.
const { chain, dir, key: alice } = await newTestChain()
const second = await cloneGenesis(chain)
chain.close()
const a = await PetalNode.create({ dir, signingKey: alice, ...fastOptions({ discovery: false }), http: { address: { host: '127.0.0.1', port: 0 } } })
await a.start()
const b = await PetalNode.create({ dir: second, ...fastOptions({ discovery: false, bootstrap: [addrOf(a)] }) })
await b.start()
await waitFor(() => a.peers().length > 0 && b.peers().length > 0, { timeout: 30_000, what: 'the two nodes connected' })
// An SSE client that stays: the server must end its stream at the stop.
const events = request(`${a.httpUrl ?? ''}api/v1/events`)
await new Promise<void>((resolve, reject) => { events.on('response', res => { res.resume(); res.on('error', () => {}); resolve() }).on('error', reject).end() })
events.on('error', () => {})
const reached = stopTimersReached(a.network.libp2p)
await a.stop()
await b.stop()
removeTmpDirs()
// libp2p's job queues (it-queue) end with 'empty' and 'idle' events debounced by 1 ms timers, which
// a loaded machine may not have run yet after two turns of the event loop (4 runs in 30, ten at a
// time: ['Timeout', 'Timeout'], both it-queue's). Node runs timers in the order they fall due, so
// once this one has run, every timer due within 50 ms of the stops has run too; what is left holds
// the process longer (the 1 s timers this check is about). Not a wait for something to finish.
await new Promise(resolve => setTimeout(resolve, 50))
// What is closed on our side (the SSE client's socket, once the server has ended its stream) goes
// on the next turns of the event loop; what is left after them is what a stopped node leaves.
await new Promise(resolve => setImmediate(resolve))
await new Promise(resolve => setImmediate(resolve))
process.stdout.write(JSON.stringify({ left: process.getActiveResourcesInfo().filter(r => r !== 'TTYWrap' && r !== 'PipeWrap'), reached }) + '\n')
