// The transport's receive path alone, for instruction counts (docs/performance/pull.md, "Session 30:
// the 1 MB pull"): two Petal libp2p nodes in this one process (TCP on loopback, noise, yamux, as
// createPetalLibp2p builds them), one stream of MB mebibytes sent in the range's 262,064-byte
// chunks to the dialling node, whose stream window is widened as a range's is; the reader only
// counts the bytes. Run under callgrind for two sizes and subtract (start-up and the handshake
// cancel); natively it prints the process's CPU a MiB (both ends: the difference of two builds is
// the receive's):
//   valgrind --tool=callgrind node bench/stream-work.mjs 16; ... 80     # PETAL_DIST=DIR: another build's dist/
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { multiaddr } from '@multiformats/multiaddr'

const dist = process.env.PETAL_DIST || new URL('../dist', import.meta.url).pathname
await import(`${dist}/polyfills.js`)
const { createPetalLibp2p } = await import(`${dist}/network/libp2p.js`)
const { loadOrCreateNodeKey } = await import(`${dist}/network/index.js`)
const { widenWindow } = await import(`${dist}/network/protocols/block.js`)

const mib = Number(process.argv[2] ?? 16)
const CHUNK = 4 * (65535 - 16) - 12
const data = randomBytes(CHUNK)
const dir = mkdtempSync(join(tmpdir(), 'stream-work-'))
const node = async name => await createPetalLibp2p({ privateKey: await loadOrCreateNodeKey(join(dir, `${name}.key`)), chainId: 'stream-work', listen: ['/ip4/127.0.0.1/tcp/0'], announce: [], maxConnections: 8, inboundPerSecond: 10, gater: {}, version: 'bench' })
const server = await node('server')
const client = await node('client')
const total = mib * 1024 * 1024
await server.handle('/stream-work/1.0.0', async stream => {
  for (let sent = 0; sent < total; sent += CHUNK) {
    if (!stream.send(data.subarray(0, Math.min(CHUNK, total - sent)))) await stream.onDrain()
  }
  await stream.close()
})
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const stream = await client.dialProtocol(multiaddr(server.getMultiaddrs()[0].toString()), '/stream-work/1.0.0', { signal: new AbortController().signal })
widenWindow(stream)
let bytes = 0
for await (const chunk of stream) bytes += chunk.byteLength
const cpu = process.cpuUsage(cpu0)
process.stderr.write(`stream-work: ${bytes} bytes in ${(performance.now() - t0).toFixed(0)} ms, process CPU ${((cpu.user + cpu.system) / 1000 / mib).toFixed(3)} ms a MiB (user ${(cpu.user / 1000 / mib).toFixed(3)})\n`)
await Promise.all([client.stop(), server.stop()])
rmSync(dir, { recursive: true, force: true })
