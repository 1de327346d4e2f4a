// `node --import` this file to record the URL of every module the process loads, one per line,
// in the file named by $PETAL_TEST_IMPORT_LOG (tests check what a command does not load): ES
// modules through a loader hook, CommonJS modules (the fast bundle's require calls) by wrapping
// Module._load, native addons by wrapping process.dlopen (the fast bundle opens better-sqlite3's
// addon directly).
import { appendFileSync } from 'node:fs'
import Module, { register } from 'node:module'
import { pathToFileURL } from 'node:url'

register('./log-imports-hooks.mjs', import.meta.url)

const load = Module._load
Module._load = function (request, parent, isMain) {
  const log = process.env.PETAL_TEST_IMPORT_LOG
  if (log !== undefined) {
    let url = request
    try {
      const file = Module._resolveFilename(request, parent, isMain)
      url = file.startsWith('/') ? pathToFileURL(file).href : file
    } catch {}
    appendFileSync(log, url + '\n')
  }
  return load.apply(this, arguments)
}

const dlopen = process.dlopen
process.dlopen = function (module, filename) {
  const log = process.env.PETAL_TEST_IMPORT_LOG
  if (log !== undefined) appendFileSync(log, pathToFileURL(filename).href + '\n')
  return dlopen.apply(this, arguments)
}
