// What the processes that the PID-namespace tests start import (pid-namespace.ts's holders, the
// readers run in another namespace or under a shim): one entry, bundled once per test process
// (nsEntry), so that a script takes node.lock and writes node-state.json with one copy of each
// module (NodeLock's own locks are per copy), and no child goes through tsx.
export * from '../../src/util/index.js'
export { NodeLock, writeWriterRecord } from '../../src/storage/index.js'
export { takeNodeLock } from '../../src/node/take-lock.js'
export { nodePid, otherNamespace, readNodeState, writeNodeState, writePullState } from '../../src/node/state-file.js'
