// Per block, a group placement's file work alone, on the built dist/ (`npm run build`): a 7,000-byte
// file and its .sig written in tmp/ (the .sig as prepareGroup writes it), then both moved into a slot by
// renameBlock, N blocks. With PETAL_NATIVE_SHA256=0 the node:fs way, else the addon's calls (the addon
// is loaded on this thread first). For instruction and system-call counts a block
// (docs/performance/catchup.md, "Session 30: catch-up"):
//   valgrind --tool=callgrind --separate-threads=yes node bench/place-files-micro.mjs 200   (and 1200)
//   strace -f -c node bench/place-files-micro.mjs 1200
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { nativeOpenssl } from '../dist/crypto/openssl-native.js'
import { writeSmallFileNative } from '../dist/crypto/index.js'
import { renameBlock } from '../dist/storage/block-files.js'
const N = Number(process.argv[2])
nativeOpenssl()
const root = mkdtempSync(join(tmpdir(), 'pfm-'))
mkdirSync(join(root, 'tmp')); mkdirSync(join(root, '0000'))
const seal = '3045' + 'ab'.repeat(69)
const body = Buffer.alloc(7000, 1)
for (let i = 0; i < N; i++) {
  const from = join(root, 'tmp', `x${i}.db`)
  writeFileSync(from, body)
  const sig = from.replace(/\.db$/, '.sig')
  const text = seal + '\n'
  if (writeSmallFileNative(sig, text) !== 0) writeFileSync(sig, text)
  renameBlock(from, join(root, '0000', `block_${i.toString(16).padStart(8, '0')}.db`), true)
}
rmSync(root, { recursive: true })
