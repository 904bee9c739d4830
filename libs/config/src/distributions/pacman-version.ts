/**
 * pacman's version order (alpm_pkg_vercmp() in lib/libalpm/version.c, what `vercmp` prints):
 * what pacman calls newer is newer here too, so that `kiln explain` and `kiln lock` say upgraded
 * or downgraded as it would. kiln hands it "[epoch:]pkgver[-pkgrel]" as pacman writes them
 * ("1:2.0-1", "2.0.r12.gabc-3").
 *
 * pacman took rpm's algorithm (from rpm 4.8) and changed it, so it is not rpm-version.ts:
 *  - "~" and "^" are separators like "." ("1.0~rc1" is newer than "1.0" here, older in rpm);
 *  - letters left over lose even to the end ("1.0a" < "1.0", as "1.0rc" < "1.0"), where rpm
 *    calls anything left over newer;
 *  - separators are counted: of two equal-looking versions the one with the shorter run of
 *    separators before a segment is older ("2_a" < "2___a"), where rpm ignores them;
 *  - a missing epoch is 0 and releases are compared only when both versions have one
 *    ("1.5-1" equals "1.5").
 */
import { compareDigits, parseEvr } from './rpm-version';

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
// vercmp runs in the C locale: only ASCII letters and digits make segments.
const isAlpha = (c: string | undefined) => c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
const isAlnum = (c: string | undefined) => isDigit(c) || isAlpha(c);

/** pacman's rpmvercmp (libalpm/version.c): one version or release string against another. */
export function alpmVercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  // Where the separators before the next segment start (the end of the previous segment).
  let si = 0;
  let sj = 0;
  while (i < a.length && j < b.length) {
    while (i < a.length && !isAlnum(a[i])) i++;
    while (j < b.length && !isAlnum(b[j])) j++;
    if (i >= a.length || j >= b.length) break;
    // Counted in bytes as C does, so a non-ASCII separator counts as its UTF-8 length.
    const sepA = Buffer.byteLength(a.slice(si, i));
    const sepB = Buffer.byteLength(b.slice(sj, j));
    if (sepA !== sepB) return sepA < sepB ? -1 : 1;
    const numeric = isDigit(a[i]);
    const inRun = numeric ? isDigit : isAlpha;
    let ei = i;
    let ej = j;
    while (inRun(a[ei])) ei++;
    while (inRun(b[ej])) ej++;
    const x = a.slice(i, ei);
    const y = b.slice(j, ej);
    // A number is newer than letters.
    if (!y) return numeric ? 1 : -1;
    const c = numeric ? compareDigits(x, y) : x < y ? -1 : x > y ? 1 : 0;
    if (c) return c;
    i = si = ei;
    j = sj = ej;
  }
  if (i >= a.length && j >= b.length) return 0;
  // What is left of one: letters lose to anything (the end too: 1.0a < 1.0), the rest wins (1.0.1 > 1.0).
  return (i >= a.length && !isAlpha(b[j])) || isAlpha(a[i]) ? -1 : 1;
}

/** Compares two pacman versions (negative, zero, positive): epoch, pkgver, then pkgrel when both have one. */
export function comparePacmanVersions(a: string, b: string): number {
  if (a === b) return 0;
  const x = parseEvr(a);
  const y = parseEvr(b);
  return (
    alpmVercmp(x.epoch ?? '0', y.epoch ?? '0') ||
    alpmVercmp(x.version, y.version) ||
    (x.release !== null && y.release !== null ? alpmVercmp(x.release, y.release) : 0)
  );
}
