// Run as a process: sync the query mirror of the data directory argv[2] from scratch and print the
// report's tip and stop code with the process's peak RSS (KiB), which a test bounds.
import '../../src/polyfills.js'
import { Chain } from '../../src/chain/index.js'
import { QueryMirror } from '../../src/query/index.js'

const chain = Chain.open(process.argv[2] as string)
const mirror = QueryMirror.open(chain)
const r = await mirror.sync()
mirror.close()
chain.close()
process.stdout.write(`${JSON.stringify({ tip: r.tip?.height, code: r.stoppedAt?.code, maxRssKiB: process.resourceUsage().maxRSS })}\n`)
