// `node --import` this file to record the URL of every module the process loads, one per line,
// in the file named by $PETAL_TEST_IMPORT_LOG (tests check what a command does not load).
import { register } from 'node:module'

register('./log-imports-hooks.mjs', import.meta.url)
