// Entry of the `petal` ES module bundle (dist/bundle/main.js): commands the CommonJS fast bundle
// does not serve (docs/performance/startup.md, "Start-up of local commands").
import '../polyfills.js'
import { start } from './start.js'

await start(() => import.meta.url)
