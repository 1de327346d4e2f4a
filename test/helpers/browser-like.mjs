// Run the built verifier (dist/proof/verifier) the way a browser would: in a fresh JavaScript
// context whose only host objects are WebCrypto and TextEncoder/TextDecoder — no Buffer, no
// process, no require — and with imports limited to the verifier's own folder.
// Usage: node --experimental-vm-modules browser-like.mjs VERIFIER_DIR PROOF.json TRUST.pem
// Prints the verifier's report as JSON.
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import vm from 'node:vm'

const [dir, proofFile, trustFile] = process.argv.slice(2)
const context = vm.createContext({ crypto: globalThis.crypto, TextEncoder, TextDecoder })
const modules = new Map()

function load (file) {
  let m = modules.get(file)
  if (m === undefined) {
    m = new vm.SourceTextModule(readFileSync(file, 'utf8'), { identifier: file, context })
    modules.set(file, m)
  }
  return m
}

const root = resolve(dir)
const entry = load(join(root, 'index.js'))
await entry.link(async (specifier, referencing) => {
  const target = resolve(dirname(referencing.identifier), specifier)
  if (!specifier.startsWith('./') || dirname(target) !== root) throw new Error(`the verifier imports ${specifier} from ${referencing.identifier}: outside its folder`)
  return load(target)
})
await entry.evaluate()
const v = entry.namespace
const trust = await v.parseTrustFile(new Uint8Array(readFileSync(trustFile)))
if (typeof trust === 'string') throw new Error(trust)
const report = await v.verifyProof(readFileSync(proofFile, 'utf8'), trust, {})
process.stdout.write(JSON.stringify(report) + '\n')
