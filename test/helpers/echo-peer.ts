// A Petal libp2p node in a process of its own, for tests that stop it (SIGSTOP) as a busy machine
// holds a process: it echoes every byte of an ECHO_PROTOCOL stream back and prints its address.
//   node --import tsx test/helpers/echo-peer.ts KEY_FILE
import '../../src/polyfills.js'
import { loadOrCreateNodeKey } from '../../src/network/index.js'
import { createPetalLibp2p } from '../../src/network/libp2p.js'

export const ECHO_PROTOCOL = '/echo-peer-test/1.0.0'

const keyFile = process.argv[2]
if (keyFile !== undefined && process.argv[1]?.endsWith('echo-peer.ts') === true) {
  const node = await createPetalLibp2p({
    privateKey: await loadOrCreateNodeKey(keyFile), chainId: 'echo-peer-test', listen: ['/ip4/127.0.0.1/tcp/0'], announce: [],
    maxConnections: 8, inboundPerSecond: 10, gater: {}, version: 'test'
  })
  await node.handle(ECHO_PROTOCOL, async stream => {
    for await (const chunk of stream) stream.send(chunk)
    await stream.close()
  })
  process.stdout.write(`${node.getMultiaddrs()[0]?.toString() ?? ''}\n`)
  process.on('SIGTERM', () => { void Promise.resolve(node.stop()).then(() => process.exit(0)) })
}
