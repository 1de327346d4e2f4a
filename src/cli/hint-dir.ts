/**
 * A hint's `petal …` commands as the user has to type them. Errors are raised below the CLI, which
 * alone knows that the user named the data directory with --dir: a hint such as "rebuild it with
 * `petal reindex`", run as written, would act on $PETAL_DIR or ~/.petal, not on the directory the
 * error is about. So the CLI puts the user's `--dir DIR` into each such command before printing it.
 *
 * Left as they are: commands that already name a directory, `petal --help`/`--version`, and the
 * commands a hint asks someone else to run on their own node (a signatory's `signkey` and
 * `signimportblock --keyops`, `keys export` of a signatory's key, `… on another node`), and
 * `verify-proof`, which reads no data directory.
 */
const ELSEWHERE = /^(?:signkey|keys export|signimportblock --keyops|verify-proof)\b/

export function hintWithDir (hint: string, dir: string | undefined): string {
  if (dir === undefined) return hint
  const d = shellWord(dir)
  return hint.replace(/`((?:npx )?petal) ([^`]*)`/g, (span: string, petal: string, rest: string, at: number) => {
    if (rest.startsWith('-') || /(?:^|\s)(?:--dir|-d)(?:\s|=|$)/.test(rest) || ELSEWHERE.test(rest)) return span
    if (/^ on (?:another|an other|the other|their) node/.test(hint.slice(at + span.length))) return span
    return `\`${petal} --dir ${d} ${rest}\``
  })
}

/** `s` as one word of a POSIX shell command line. */
function shellWord (s: string): string {
  return /^[\w./:@%+=,~-]+$/.test(s) && !s.startsWith('~') ? s : `'${s.replaceAll('\'', '\'\\\'\'')}'`
}
