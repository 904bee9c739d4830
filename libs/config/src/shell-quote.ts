/**
 * A word quoted for a POSIX shell (sh -c): as it is when it holds only characters no shell
 * treats specially, else in single quotes. For the commands kiln writes for other tools to run
 * (the Nx plugin's runtime input, the scripts of kiln turbo's packages, which npm runs with sh -c).
 */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
