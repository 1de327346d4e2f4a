/**
 * The command `argv` names: its first word that is neither a global option nor the value of one
 * (`takesValue`: the global options that take a value, short and long). Undefined for
 * `petal --help`, `petal --version` or after `--`. Shared by runCli and the start-up router, which
 * must agree on it without loading commander.
 */
export function commandWord (argv: readonly string[], takesValue: ReadonlySet<string>): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === undefined || a === '--') return undefined
    if (!a.startsWith('-')) return a
    if (takesValue.has(a)) i++
  }
  return undefined
}
