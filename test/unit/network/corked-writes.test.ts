// corked-writes.ts and lean-transport.ts at the edges: a send on a socket that was destroyed or
// ended (the connection closing under a stream) neither throws nor leaves the socket corked; a
// send while the socket waits for 'drain' still arrives in order after the earlier ones; and
// libp2p shapes these modules do not know (an upgrade that renamed what they patch) are left as
// they are, the connection working unpatched, instead of a crash.
import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { ConnectionEncrypter, SecuredConnection } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { corkedConnections, useCorkedWrites } from '../../../src/network/corked-writes.js'
import { leanDecryptConnections, useLeanDecrypt } from '../../../src/network/lean-noise.js'
import { leanTransport } from '../../../src/network/lean-transport.js'

async function pair (): Promise<{ client: Socket, server: Socket, listener: Server, received: Buffer[] }> {
  const received: Buffer[] = []
  let server!: Socket
  const listener = createServer()
  const accepted = new Promise<void>(resolve => {
    listener.once('connection', s => { server = s; s.on('data', b => { received.push(b) }); s.on('error', () => {}); resolve() })
  })
  await new Promise<void>(resolve => { listener.listen(0, '127.0.0.1', resolve) })
  const client = connect((listener.address() as { port: number }).port, '127.0.0.1')
  await new Promise<void>(resolve => { client.once('connect', resolve) })
  await accepted
  return { client, server, listener, received }
}

function corked (socket: Socket): { socket: Socket, sendData: (d: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean } } {
  const conn = { socket, sendData: (_d: Uint8ArrayList) => ({ sentBytes: 0, canSendMore: true }) }
  expect(useCorkedWrites(conn)).toBe(true)
  return conn
}

describe('corked writes at the edges', () => {
  it('a send after the socket was destroyed or ended: no throw, no uncaught error, the socket not left corked', async () => {
    const p = await pair()
    try {
      // As @libp2p/tcp does: a socket error aborts the connection (here: recorded).
      const errors: Error[] = []
      p.client.on('error', e => { errors.push(e) })
      const conn = corked(p.client)
      p.client.destroy()
      expect(() => conn.sendData(new Uint8ArrayList(randomBytes(2), randomBytes(100), randomBytes(16)))).not.toThrow()
      expect(p.client.writableCorked).toBe(0)

      const q = await pair()
      const errs: Error[] = []
      q.client.on('error', e => { errs.push(e) })
      const c2 = corked(q.client)
      q.client.end()
      expect(() => c2.sendData(new Uint8ArrayList(randomBytes(2), randomBytes(100), randomBytes(16)))).not.toThrow()
      expect(q.client.writableCorked).toBe(0)
      await new Promise(resolve => setImmediate(resolve))
      // Writing after end is an error the socket reports (once), which the connection's 'error' handler takes.
      expect(errs.length).toBeLessThanOrEqual(1)
      q.client.destroy()
      q.listener.close()
    } finally {
      p.client.destroy()
      p.listener.close()
    }
  })

  it('sends made while the socket waits for drain arrive after the earlier ones, in order', async () => {
    const p = await pair()
    try {
      p.server.pause()
      const conn = corked(p.client)
      const parts: Buffer[] = []
      let waits = 0
      for (let i = 0; i < 40; i++) {
        const send = [randomBytes(2), randomBytes(1 + (i * 7919) % 70_000), randomBytes(16)]
        parts.push(...send)
        const r = conn.sendData(new Uint8ArrayList(...send))
        expect(r.sentBytes).toBe(send.reduce((n, b) => n + b.byteLength, 0))
        if (!r.canSendMore) waits++
        expect(p.client.writableCorked).toBe(0)
      }
      expect(waits).toBeGreaterThan(0)
      const all = Buffer.concat(parts)
      p.server.resume()
      await new Promise<void>(resolve => { p.client.once('drain', resolve) })
      p.client.end()
      await new Promise<void>(resolve => { p.server.once('end', resolve) })
      expect(Buffer.concat(p.received).equals(all)).toBe(true)
    } finally {
      p.client.destroy()
      p.listener.close()
    }
  })

  it('shapes it does not know are left alone: no patch, no throw, the connection secured as before', async () => {
    const corkedBefore = corkedConnections()
    const leanBefore = leanDecryptConnections()
    // @libp2p/tcp without sendData, or with a socket that cannot cork; noise without handshake.decrypt.
    for (const c of [{}, { socket: {} }, { sendData: () => {}, socket: { cork: 1, uncork: () => {} } }, null, undefined, 5]) {
      expect(useCorkedWrites(c)).toBe(false)
    }
    for (const s of [{}, { decrypt: () => {} }, { decrypt: () => {}, handshake: {} }, { handshake: { decrypt: () => {} } }]) {
      const before = Reflect.get(s, 'decrypt')
      expect(useLeanDecrypt(s as never)).toBe(false)
      expect(Reflect.get(s, 'decrypt')).toBe(before)
    }
    // An encrypter whose connections have neither shape: leanTransport passes them through untouched.
    const raw = { sendData: 'not a function' }
    const secured = { connection: { decrypt: 'not a function' }, remotePeer: 'peer' }
    const factory = (): ConnectionEncrypter => ({
      protocol: '/test',
      secureInbound: async () => secured as unknown as SecuredConnection,
      secureOutbound: async () => secured as unknown as SecuredConnection
    }) as unknown as ConnectionEncrypter
    const enc = leanTransport(factory)({})
    expect(await enc.secureInbound(raw as never)).toBe(secured)
    expect(await enc.secureOutbound(raw as never)).toBe(secured)
    expect(raw.sendData).toBe('not a function')
    expect(secured.connection.decrypt).toBe('not a function')
    expect(corkedConnections()).toBe(corkedBefore)
    expect(leanDecryptConnections()).toBe(leanBefore)
  })
})
