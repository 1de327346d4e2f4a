/**
 * `s` as one word of a POSIX shell command line: as it is where no character is special to the
 * shell, else in single quotes (a `'` as `'\\''`). For the commands Petal prints for the user to
 * run (hints, next steps): a path with a space, a `$` or a quote, printed bare, ran as another
 * command or on another directory (`petal --dir my d blocks`, review33).
 */
export function shellWord (s: string): string {
  // No `~` bare anywhere: bash expands one after the `=` of an argument shaped as an assignment
  // (`--dir a=~/d`); nor a leading `=`, which zsh expands to a command's path (review34).
  return /^[\w./:@%+=,-]+$/.test(s) && !s.startsWith('=') ? s : `'${s.replaceAll('\'', '\'\\\'\'')}'`
}
