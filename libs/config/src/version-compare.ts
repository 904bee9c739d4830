/**
 * Version comparison for `[Match] ImageVersion=` and `SystemdVersion=`: the UAPI group's version
 * format (systemd-analyze compare-versions) as mkosi 26 implements it (mkosi/versioncomp.py),
 * checked against mkosi itself. One difference from the specification is mkosi's and kept: when
 * both remainders go on and one starts with `^`, that one compares lower (1.2^1 < 1.2.1).
 *
 * A condition is `[OP]VERSION` with OP one of ==, !=, <=, >=, <, > (== when absent). Only the
 * first operator counts: `>=1.0 <2` compares with the version "1.0 <2", whose space and `<` are
 * skipped like any character outside the format, as mkosi does. Several constraints are written
 * as several conditions (ImageVersion=>=1.0 and ImageVersion=<2 on two lines).
 */

const DIGITS = /^[0-9]*/;
const LETTERS = /^[A-Za-z]*/;
/** Leading characters outside the format (anything but letters, digits and ~ - ^ .), skipped. */
const SKIPPED = /^[^A-Za-z0-9~\-^.]*/;

/** -1, 0 or 1 as version a is older than, the same as, or newer than version b. */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  for (;;) {
    a = a.replace(SKIPPED, '');
    b = b.replace(SKIPPED, '');
    // ~ sorts before everything, the end of the string included (1.2~rc1 < 1.2).
    if (a.startsWith('~') || b.startsWith('~')) {
      if (!a.startsWith('~')) return 1;
      if (!b.startsWith('~')) return -1;
      a = a.slice(1);
      b = b.slice(1);
    }
    if (!a || !b) return !a && !b ? 0 : a ? 1 : -1;
    for (const sep of ['-', '^', '.']) {
      if (a.startsWith(sep) || b.startsWith(sep)) {
        // - and . sort before anything but themselves; ^ too, as mkosi has it (see above).
        if (!a.startsWith(sep)) return 1;
        if (!b.startsWith(sep)) return -1;
        a = a.slice(1);
        b = b.slice(1);
      }
    }
    const da = DIGITS.exec(a)![0];
    const db = DIGITS.exec(b)![0];
    if (da || db) {
      const c = compareNumbers(da, db);
      if (c) return c;
      a = a.slice(da.length);
      b = b.slice(db.length);
      continue;
    }
    const la = LETTERS.exec(a)![0];
    const lb = LETTERS.exec(b)![0];
    if (la !== lb) return la < lb ? -1 : 1;
    a = a.slice(la.length);
    b = b.slice(lb.length);
  }
}

/** Decimal digit strings compared as numbers of any length ("" is 0, leading zeros ignored). */
function compareNumbers(a: string, b: string): -1 | 0 | 1 {
  a = a.replace(/^0+/, '');
  b = b.replace(/^0+/, '');
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

const OPERATORS: readonly [string, (c: number) => boolean][] = [
  ['==', (c) => c === 0],
  ['!=', (c) => c !== 0],
  ['<=', (c) => c <= 0],
  ['>=', (c) => c >= 0],
  ['>', (c) => c > 0],
  ['<', (c) => c < 0],
];

/** Whether `version` satisfies the condition `[OP]VERSION`. */
export function versionSatisfies(version: string, condition: string): boolean {
  for (const [op, holds] of OPERATORS) {
    if (condition.startsWith(op)) return holds(compareVersions(version, condition.slice(op.length)));
  }
  return compareVersions(version, condition) === 0;
}
