// Imported (node --import) before each benchmark suite by bench/run.ts, and before the CLI by
// benches that measure a command's memory: prints the process's peak resident set size at exit.
process.on('exit', () => {
  const mib = process.resourceUsage().maxRSS / 1024
  process.stdout.write(`\npeak RSS: ${mib.toFixed(0)} MiB\n`)
})
