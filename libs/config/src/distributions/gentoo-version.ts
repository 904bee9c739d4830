/**
 * Gentoo package versions, as the Package Manager Specification defines them (PMS "Version
 * Specifications" and "Version Comparison"). The engine's portage resolver compares dependency
 * versions with it, so it must order exactly as portage does or the resolver would pick other
 * packages than emerge; `kiln explain` and `kiln lock` say upgraded or downgraded by it.
 */

/** The version suffixes, in ascending order (a version without suffix sits between _rc and _p). */
const SUFFIX_ORDER = ['alpha', 'beta', 'pre', 'rc', 'p'] as const;
export type SuffixKind = (typeof SUFFIX_ORDER)[number];

export interface Version {
  /** The version as written, "1.02b_rc3-r1". */
  text: string;
  /** The numeric components as written (leading zeros matter): ["1", "02"]. */
  numbers: string[];
  /** The optional letter after the numbers: "b", or "". */
  letter: string;
  /** _alpha/_beta/_pre/_rc/_p suffixes, each with its number as written ("" when it has none). */
  suffixes: { kind: SuffixKind; number: string }[];
  /** The -rN revision's digits, "" when there is none (which compares as r0). */
  revision: string;
}

const VERSION_RE = /^(\d+(?:\.\d+)*)([a-z]?)((?:_(?:alpha|beta|pre|rc|p)\d*)*)(?:-r(\d+))?$/;
const SUFFIX_RE = /_(alpha|beta|pre|rc|p)(\d*)/g;

export function parseVersion(s: string): Version | null {
  const m = VERSION_RE.exec(s);
  if (!m) return null;
  return {
    text: s,
    numbers: m[1].split('.'),
    letter: m[2],
    suffixes: [...m[3].matchAll(SUFFIX_RE)].map((x) => ({ kind: x[1] as SuffixKind, number: x[2] })),
    revision: m[4] ?? '',
  };
}

export const isValidVersion = (s: string): boolean => parseVersion(s) !== null;

const sign = (n: number) => (n > 0 ? 1 : n < 0 ? -1 : 0);

/** Compares digit strings as integers of any size ("" is 0): versions may hold dates and hashes. */
function compareIntegers(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return sign(x.length - y.length);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * PMS "numeric component" rule for every component but the first: with a leading zero on either
 * side the components are decimal fractions (1.01 < 1.1), compared as strings without their
 * trailing zeros (so 1.010 and 1.01 are equal); otherwise as integers (1.9 < 1.10).
 */
function compareComponent(a: string, b: string): number {
  if (a[0] === '0' || b[0] === '0') {
    const x = a.replace(/0+$/, '');
    const y = b.replace(/0+$/, '');
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return compareIntegers(a, b);
}

/** The PMS version comparison of two parsed versions: negative, zero or positive. */
export function compareParsedVersions(a: Version, b: Version): number {
  let c = compareIntegers(a.numbers[0], b.numbers[0]);
  if (c) return c;
  const n = Math.min(a.numbers.length, b.numbers.length);
  for (let i = 1; i < n; i++) {
    c = compareComponent(a.numbers[i], b.numbers[i]);
    if (c) return c;
  }
  // 1.0.0 > 1.0: more components is newer once the shared ones are equal.
  if (a.numbers.length !== b.numbers.length) return sign(a.numbers.length - b.numbers.length);
  // No letter is older than any letter: 1.0 < 1.0a.
  if (a.letter !== b.letter) return a.letter < b.letter ? -1 : 1;
  const m = Math.min(a.suffixes.length, b.suffixes.length);
  for (let i = 0; i < m; i++) {
    const x = a.suffixes[i];
    const y = b.suffixes[i];
    if (x.kind !== y.kind) return sign(SUFFIX_ORDER.indexOf(x.kind) - SUFFIX_ORDER.indexOf(y.kind));
    c = compareIntegers(x.number, y.number);
    if (c) return c;
  }
  // An extra suffix makes a version newer only when it is _p: 1.0 < 1.0_p1, but 1.0_rc1 < 1.0.
  if (a.suffixes.length > m) return a.suffixes[m].kind === 'p' ? 1 : -1;
  if (b.suffixes.length > m) return b.suffixes[m].kind === 'p' ? -1 : 1;
  return compareIntegers(a.revision, b.revision);
}

function mustParse(s: string): Version {
  const v = parseVersion(s);
  if (!v) throw new Error(`invalid version "${s}": expected digits and dots, an optional letter, _alpha/_beta/_pre/_rc/_p suffixes and -rN, e.g. 1.2.3b_rc1-r2`);
  return v;
}

/** Compares two version strings per PMS (negative, zero, positive); throws on an invalid version. */
export function compareVersions(a: string, b: string): number {
  return compareParsedVersions(mustParse(a), mustParse(b));
}
