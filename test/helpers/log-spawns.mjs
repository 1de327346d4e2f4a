// `node --import` this file to record every child process the process starts, at the moment it
// starts it, as a line "<pid> <start time>" in the file named by $PETAL_TEST_SPAWN_LOG (the start
// time is that of /proc/<pid>/stat, so a reused pid is not mistaken for it). A poll of /proc
// misses a child that lives less than its interval (`petal query --help` kills the sandbox it
// started early within milliseconds); this does not. Every way of starting one (spawn, fork,
// exec…) goes through ChildProcess.prototype.spawn. Until this process reaps the child, which its
// event loop does later, the child's /proc entry is there.
import { ChildProcess } from 'node:child_process'
import { appendFileSync, readFileSync } from 'node:fs'

const spawn = ChildProcess.prototype.spawn
ChildProcess.prototype.spawn = function (...args) {
  const r = spawn.apply(this, args)
  const log = process.env.PETAL_TEST_SPAWN_LOG
  if (log !== undefined && typeof this.pid === 'number') {
    let start = 'unknown'
    try {
      start = readFileSync(`/proc/${this.pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[19] ?? start
    } catch {}
    appendFileSync(log, `${this.pid} ${start}\n`)
  }
  return r
}
