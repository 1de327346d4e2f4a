/**
 * util: leaf helpers shared by every module — hex, typed errors, durable file writes, logging,
 * clock, timestamps, async primitives and a small worker pool.
 *
 * Owns nothing stateful. Must not import any other Petal module or any third-party package.
 * Known exception to importing through this index: the CLI's start-up scripts load
 * `stale-temps.ts`, `code-cache-slot.ts`, `child-processes.ts`, `exit-status.ts` and
 * `prestart-workers.ts` directly, so that the barrel's modules that do work when loaded (the error
 * classes' registry) stay out of every start (docs/architecture.md, "Known violations").
 * @module
 */
export { PetalError, AbortError, isPetalError, throwIfAborted, registerErrorClass, errorClasses, hintOf, serializeError, reviveError, withDetails, type PetalErrorArgs, type CodeDoc, type ErrorClass, type SerializedError, type Quoted } from './errors.js'
export { said, quote, quoteEach, changeOwnWords, type Said, type Span } from './said.js'
export { isRecord, errorMessage, errorCode, parseJson, isStringArray, asError } from './narrow.js'
export { toHex, fromHex, hexInto, isHex, isHash, equalBytes } from './hex.js'
export { uleb } from './leb128.js'
export { builtBytes, BUILT_DIR } from './built-bytes.js'
export { nameNonce, fsyncDir, fsyncDirAsync, fsyncFile, fsyncFileAsync, fsyncPathAsync, fsyncPathSync, writeFileAtomic, replaceFile, writeNewFileSync, writeFullySync, readFullySync, isNotFound, canWrite } from './fs.js'
export { writeOutputFile, type DamagedFile, type DescriptorWriters, type OutputOptions } from './output-file.js'
export { removeStaleTemps, removeDeadWritersTemps, processAlive, tempAbandoned, tempTag, atomicTempPath, pidNamespace, nameNamespace, UNKNOWN_NAMESPACE, procIsOwn } from './stale-temps.js'
export { ownTempDir, removeDeadTempDirs } from './os-temp-dir.js'
export { takeCodeCacheWrite } from './code-cache-slot.js'
export { hintDirOf, hintWithDir, logRecordWithDir } from './hint-dir.js'
export { shellWord } from './shell-word.js'
export { bootId, otherBoot, sameNamespace, unknownNamespace, findInNamespace, namedPid, pidDetails, type PidDetails, type NamespacePeek } from './pid-namespace.js'
export { lockHolders, readLockTable, type LockTable, processStartTime, processStopped, processStopState, processCommand, resumeAdvice } from './lock-holders.js'
export { HeapGrowth, HEAP_GROWING_PERCENT } from './heap-growth.js'
export { LOG_LEVELS, isLogLevel, createLogger, nullLogger, formatLogRecord, type LogLevel, type Logger, type LogRecord } from './logger.js'
export { systemClock, type Clock } from './clock.js'
export { formatTimestamp, parseUtcTimestamp, parseRfc3339 } from './time.js'
export { sleep, abortable, abortWaits, Mutex, type AbortWaits } from './async.js'
export { linkSignals, Watchdog, type LinkedSignal } from './abort.js'
export { LazyAbort } from './lazy-abort.js'
export { runLoop, runStopSteps, type StopStep } from './loop.js'
export { workerScript, setTypeScriptBundler, typeScriptBundle, WorkerPool, serveWorker, type WorkerScript } from './worker-pool.js'
export { prestartWorkers, takePrestartedWorker } from './prestart-workers.js'
export { failpoint, holdsAt, pausepointSync, pausepoint } from './failpoint.js'
export { trackChildProcess, childExited, killChildProcesses, killChildProcessesSync } from './child-processes.js'
export { WorkMeter, type WorkProgress, type OnWorkProgress } from './progress.js'
export { EXIT, errorStatusTable, statusOfCode, errorStatus } from './error-status.js'
