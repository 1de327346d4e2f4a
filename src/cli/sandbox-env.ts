/**
 * The query sandbox process's environment: this process's, less NODE_EXTRA_CA_CERTS. The sandbox
 * runs SQLite and makes no TLS connection, and Node parses the named certificate bundle in every
 * process before any JavaScript runs (~70 ms of CPU for a 220 KB bundle on the bench machine,
 * docs/performance/manifest.md, "Session 8"), on the path of the first answer. Everything else stays (TZ
 * for SQLite's 'localtime', NODE_OPTIONS for the heap limit of a large result).
 */
export function sandboxEnv (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.NODE_EXTRA_CA_CERTS
  return env
}
