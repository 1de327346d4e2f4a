// A/B of a range's upload, both libp2p nodes in one process (Petal's transport: noise with the
// native cipher, corked writes, lean decryption, yamux): rounds of N 1 MB block files of a chain
// sent as one range's stream, 'own' (each large block in messages of its own: flush, then
// sendFile; main before session 35) or 'continued' (SendBatch.addFile: a block continues the
// previous block's message), the receiver reading every byte through a window widened as
// fetchBlocks widens it. Prints each round's CPU (all threads, user + system) and noise messages
// sealed by both ends a block; the first two rounds (warm-up) are not counted. Rounds alternate
// own, continued, continued, own… unless ONLY=own|continued.
//   node bench/range-send-ab.mjs SRC [ROUNDS] [N]
// Instructions (docs/performance/pull.md, "Session 35: the 1 MB pull"), one run each way:
//   CG=1 LONG_DIAL=1 CHECK_HASHER=0 ONLY=own valgrind --tool=callgrind --instr-atstart=no node bench/range-send-ab.mjs SRC 5 20
// CG=1 switches callgrind's instrumentation on for the counted rounds only; LONG_DIAL=1 gives the
// dial 10 minutes (under valgrind the handshake outlasts its 10 s; the first try may still fail
// on the inbound side, and is retried).
// AB=chunk: the rounds compare a range's message size instead, both continued: 'own' in
// UPLOAD_CHUNK messages, 'continued' in LARGE_UPLOAD_CHUNK ones (docs/performance/pull.md, "Session 38:
// the 1 MB pull").
import { openSync, closeSync, statSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'

const dist = process.env.PETAL_DIST || new URL('../dist', import.meta.url).pathname
await import(`${dist}/polyfills.js`)
const { Chain } = await import(`${dist}/chain/index.js`)
const { PetalNode } = await import(`${dist}/node/index.js`)
const { SendBatch, sendFile } = await import(`${dist}/network/protocols/send-file.js`)
const { UPLOAD_CHUNK, LARGE_UPLOAD_CHUNK, TIMEOUTS } = await import(`${dist}/network/constants.js`)
const byChunk = process.env.AB === 'chunk'
// LONG_DIAL=1 (under valgrind): the dial may take minutes.
if (process.env.LONG_DIAL === '1') TIMEOUTS.dial = 600_000
const { widenWindow } = await import(`${dist}/network/protocols/block.js`)
const { nativeNoiseMessages } = await import(`${dist}/network/noise-crypto.js`)
const [src, roundsArg, nArg] = process.argv.slice(2)
const rounds = Number(roundsArg ?? 16); const n = Number(nArg ?? 50)

const server = await PetalNode.create({ dir: src, stateFile: false, network: { listen: ['/ip4/127.0.0.1/tcp/0'], discovery: false } })
await server.start()
const source = Chain.open(src)
const files = source.index.range(1, Math.min(n, source.tip().height)).map(r => source.pathOf(r))
const sizes = files.map(f => statSync(f).size)
source.close()
const head = Buffer.alloc(120, 7)
const handler = continued => async stream => {
  const limit = new AbortController().signal
  const batch = new SendBatch(stream, limit, byChunk ? { chunk: continued ? LARGE_UPLOAD_CHUNK : UPLOAD_CHUNK } : {})
  for (const [i, f] of files.entries()) {
    const fd = openSync(f, 'r')
    try {
      const size = sizes[i]
      const file = { fd, size, seal: '' }
      if (head.byteLength + size <= UPLOAD_CHUNK) await batch.add(head, file)
      else if (continued || byChunk) await batch.addFile(head, file, limit)
      else { await batch.flush(); await sendFile(stream, file, limit, head, batch) }
    } finally { closeSync(fd) }
  }
  await batch.flush()
  await stream.close()
}
await server.network.libp2p.handle('/petal-bench/own/1.0.0', handler(false), { maxInboundStreams: 64 })
await server.network.libp2p.handle('/petal-bench/continued/1.0.0', handler(true), { maxInboundStreams: 64 })

const dir = (await import('node:fs')).mkdtempSync('/tmp/range-ab-')
const { Chain: C2, installGenesis } = await import(`${dist}/chain/index.js`)
const { DataDir } = await import(`${dist}/storage/index.js`)
const { copyFileSync } = await import('node:fs')
const s2 = C2.open(src)
copyFileSync(s2.dir.blockPath(0), `${dir}/g.db`); copyFileSync(s2.dir.blockPath(0).replace(/\.db$/, '.sig'), `${dir}/g.sig`)
const chain = await installGenesis(new DataDir(`${dir}/data`), s2.params, `${dir}/g.db`)
s2.close()
const puller = await PetalNode.create({ dir: chain.dir.root, chain, network: { listen: [], announce: [], bootstrap: [], discovery: false }, queryMirror: false, ingest: false })
await puller.network.libp2p.start()
const addr = multiaddr(server.listenAddrs()[0])

const results = { own: [], continued: [] }
// CG=1 (under valgrind --tool=callgrind --instr-atstart=no): instrumentation on for the measured rounds only.
const { execFileSync } = await import('node:child_process')
const instr = on => { if (process.env.CG === '1') execFileSync('callgrind_control', ['-i', on ? 'on' : 'off', String(process.pid)], { stdio: 'ignore' }) }
for (let r = 0; r < rounds; r++) {
  const kind = process.env.ONLY ?? ((r % 4 === 0 || r % 4 === 3) ? 'own' : 'continued')
  if (r >= 2) instr(true)
  const m0 = nativeNoiseMessages().sealed
  const c0 = process.cpuUsage()
  // Retried: under valgrind the first handshakes and negotiations outlast libp2p's timeouts.
  let stream
  for (let t = 0; stream === undefined; t++) {
    try { stream = await puller.network.libp2p.dialProtocol(addr, `/petal-bench/${kind}/1.0.0`) } catch (err) { if (t >= 20) throw err; process.stderr.write(`dial: ${err.message}, again\n`) }
  }
  widenWindow(stream) // as fetchBlocks does: a 4 MiB window, updates at half of it
  let bytes = 0
  for await (const chunk of stream) bytes += chunk.byteLength
  await stream.close()
  const c = process.cpuUsage(c0)
  if (r >= 2) instr(false)
  const ms = (c.user + c.system) / 1000 / files.length
  const msgs = (nativeNoiseMessages().sealed - m0) / files.length
  if (r >= 2) results[kind].push(ms)
  process.stderr.write(`round ${r} ${kind}: ${bytes} bytes, ${ms.toFixed(3)} ms CPU a block, ${msgs.toFixed(2)} noise messages sealed a block\n`)
}
const med = a => a.length === 0 ? NaN : (a => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)] })(a)
process.stderr.write(`median CPU a block: own ${med(results.own).toFixed(3)} (${results.own.length} rounds), continued ${med(results.continued).toFixed(3)} (${results.continued.length})\n`)
await puller.stop(); await server.stop(); chain.close()
;(await import('node:fs')).rmSync(dir, { recursive: true, force: true })
process.exit(0)
