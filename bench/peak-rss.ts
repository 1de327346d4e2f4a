// Imported before each benchmark suite (bench/run.ts): prints the suite's peak resident set size
// when its process exits, the memory figure of each suite.
process.on('exit', () => {
  const mib = process.resourceUsage().maxRSS / 1024
  process.stdout.write(`\npeak RSS of this suite: ${mib.toFixed(0)} MiB\n`)
})
