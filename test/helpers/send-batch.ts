import { closeSync, openSync } from 'node:fs'
import type { Stream } from '@libp2p/interface'
import { SendBatch } from '../../src/network/protocols/send-file.js'
import { UPLOAD_CHUNK } from '../../src/network/constants.js'

/**
 * The blocks through one SendBatch of messages of `chunk` (UPLOAD_CHUNK when not given), as the
 * range's server adds them: add for a block that fits a message whole with its head, addFile for a
 * larger one. Returns the messages the stream was given, copied.
 */
export async function serveRange (blocks: Array<{ path: string, bytes: Buffer, head: Buffer }>, chunk?: number): Promise<Uint8Array[]> {
  const sent: Uint8Array[] = []
  const stream = { send: (b: Uint8Array) => { sent.push(Buffer.from(b)); return true } }
  const limit = new AbortController().signal
  const batch = new SendBatch(stream as unknown as Stream, limit, chunk === undefined ? {} : { chunk })
  for (const b of blocks) {
    const fd = openSync(b.path, 'r')
    try {
      const f = { fd, size: b.bytes.length, seal: '' }
      if (b.head.byteLength + f.size <= UPLOAD_CHUNK) await batch.add(b.head, f)
      else await batch.addFile(b.head, f, limit)
    } finally {
      closeSync(fd)
    }
  }
  await batch.flush()
  return sent
}
