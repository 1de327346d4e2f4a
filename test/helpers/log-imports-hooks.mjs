// Module hooks for log-imports.mjs: they run on the loader thread.
import { appendFileSync } from 'node:fs'

export async function load (url, context, next) {
  const log = process.env.PETAL_TEST_IMPORT_LOG
  if (log !== undefined) appendFileSync(log, url + '\n')
  return await next(url, context)
}
