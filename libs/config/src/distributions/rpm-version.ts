/**
 * rpm's version order (rpm 4.18: rpmvercmp() in rpmio/rpmvercmp.c, rpmverParse()/rpmverCmp() in
 * rpmio/rpmver.c), which dnf and zypper install by: what they call newer is newer here too, so
 * that `kiln explain` and `kiln lock` say upgraded or downgraded as they would.
 *
 * kiln hands it a package's EVR as the lock stores it: "[epoch:]version[-release]" with the epoch
 * left out when it is 0 ("2.0~rc1-1", "1:2.0-1"); "0:2.0-1" is read too and equals "2.0-1".
 */

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
// rpm's risalpha()/risalnum() are ASCII-only whatever the locale: any other character separates.
const isAlpha = (c: string | undefined) => c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
const isSeparator = (c: string) => !isDigit(c) && !isAlpha(c) && c !== '~' && c !== '^';

/** The run of characters from `s[i]` on that `inRun` accepts. */
function run(s: string, i: number, inRun: (c: string | undefined) => boolean): string {
  let j = i;
  while (inRun(s[j])) j++;
  return s.slice(i, j);
}

/** Digit runs compared as integers of any size (dates and snapshot numbers overflow a double). */
export function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length > y.length ? 1 : -1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * rpmvercmp: compares two version (or release) strings run by run, a run being all digits
 * (compared as numbers) or all letters (compared bytewise); whatever else separates runs and only
 * separates ("2.0" equals "2_0"). A number is newer than letters ("1.0" > "1.a"). "~" sorts before
 * everything, the end included ("1.0~rc1" < "1.0"); "^" after the end but before anything else
 * ("1.0" < "1.0^git1" < "1.0.1"). When all runs are equal, the string with runs left is newer.
 */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && isSeparator(a[i])) i++;
    while (j < b.length && isSeparator(b[j])) j++;
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    // a[i] starts a run of digits or letters; b's run is of the same kind, or empty.
    const numeric = isDigit(a[i]);
    const x = run(a, i, numeric ? isDigit : isAlpha);
    const y = run(b, j, numeric ? isDigit : isAlpha);
    if (!y) return numeric ? 1 : -1;
    const c = numeric ? compareDigits(x, y) : x < y ? -1 : x > y ? 1 : 0;
    if (c) return c;
    i += x.length;
    j += y.length;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

export interface Evr {
  /** The digits before ":" ("" written as ":1.0" reads as "0"), null when there is no epoch. */
  epoch: string | null;
  version: string;
  /** What follows the last "-", null when there is none. */
  release: string | null;
}

/** rpm's split of "[epoch:]version[-release]": an epoch is only digits followed by ":". */
export function parseEvr(evr: string): Evr {
  const digits = run(evr, 0, isDigit);
  const hasEpoch = evr[digits.length] === ':';
  const rest = hasEpoch ? evr.slice(digits.length + 1) : evr;
  const dash = rest.lastIndexOf('-');
  return {
    epoch: hasEpoch ? digits || '0' : null,
    version: dash >= 0 ? rest.slice(0, dash) : rest,
    release: dash >= 0 ? rest.slice(dash + 1) : null,
  };
}

/**
 * Compares two EVRs as rpm does (negative, zero, positive): epochs (none is 0), then versions,
 * then releases, where a release is newer than none ("1.0-1" > "1.0"). Throws on an empty
 * string, which rpm refuses as a version.
 */
export function compareRpmVersions(a: string, b: string): number {
  if (!a || !b) throw new Error('invalid version "": an rpm version is [epoch:]version[-release], e.g. 1:2.0-1');
  const x = parseEvr(a);
  const y = parseEvr(b);
  const optional = (p: string | null, q: string | null) => (p === null ? (q === null ? 0 : -1) : q === null ? 1 : rpmvercmp(p, q));
  return rpmvercmp(x.epoch ?? '0', y.epoch ?? '0') || rpmvercmp(x.version, y.version) || optional(x.release, y.release);
}
