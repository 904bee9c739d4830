/**
 * rpm's version order (dnf, zypper): the cases of rpm's own test suite (tests/rpmvercmp.at), EVRs
 * as kiln's lock stores them, and rpm 4.18 itself over those and generated pairs.
 */
import { compareDistributionVersions, compareRpmVersions } from '../src';
import { generatedPairs, rpmOracle, type Pair } from './version-oracles';

type Case = [string, string, number];

// tests/rpmvercmp.at (rpm 4.18 and later), each case once: the suite also runs each reversed.
const RPMVERCMP: Case[] = [
  ['1.0', '1.0', 0], ['1.0', '2.0', -1], ['2.0.1', '2.0.1', 0], ['2.0', '2.0.1', -1],
  ['2.0.1a', '2.0.1a', 0], ['2.0.1a', '2.0.1', 1], ['5.5p1', '5.5p1', 0], ['5.5p1', '5.5p2', -1],
  ['5.5p10', '5.5p10', 0], ['5.5p1', '5.5p10', -1], ['10xyz', '10.1xyz', -1], ['xyz10', 'xyz10', 0],
  ['xyz10', 'xyz10.1', -1], ['xyz.4', 'xyz.4', 0], ['xyz.4', '8', -1], ['xyz.4', '2', -1],
  ['5.5p2', '5.6p1', -1], ['5.6p1', '6.5p1', -1], ['6.0.rc1', '6.0', 1], ['10b2', '10a1', 1],
  ['10a2', '10b2', -1], ['1.0aa', '1.0aa', 0], ['1.0a', '1.0aa', -1], ['10.0001', '10.0001', 0],
  ['10.0001', '10.1', 0], ['10.0001', '10.0039', -1], ['4.999.9', '5.0', -1], ['20101121', '20101121', 0],
  ['20101121', '20101122', -1], ['2_0', '2_0', 0], ['2.0', '2_0', 0],
  // RhBug:178798: separators only separate.
  ['a', 'a', 0], ['a+', 'a+', 0], ['a+', 'a_', 0], ['+a', '+a', 0], ['+a', '_a', 0], ['+_', '+_', 0],
  ['_+', '+_', 0], ['_+', '_+', 0], ['+', '_', 0],
  // '~' before everything, the end included.
  ['1.0~rc1', '1.0~rc1', 0], ['1.0~rc1', '1.0', -1], ['1.0~rc1', '1.0~rc2', -1],
  ['1.0~rc1~git123', '1.0~rc1~git123', 0], ['1.0~rc1~git123', '1.0~rc1', -1],
  // '^' after the end, before anything else.
  ['1.0^', '1.0^', 0], ['1.0^', '1.0', 1], ['1.0^git1', '1.0^git1', 0], ['1.0^git1', '1.0', 1],
  ['1.0^git1', '1.0^git2', -1], ['1.0^git1', '1.01', -1], ['1.0^20160101', '1.0^20160101', 0],
  ['1.0^20160101', '1.0.1', -1], ['1.0^20160101^git1', '1.0^20160101^git1', 0],
  ['1.0^20160102', '1.0^20160101^git1', 1],
  ['1.0~rc1^git1', '1.0~rc1^git1', 0], ['1.0~rc1^git1', '1.0~rc1', 1], ['1.0^git1~pre', '1.0^git1~pre', 0],
  ['1.0^git1', '1.0^git1~pre', 1],
  // The "oddities" the suite documents (commented out there, RhBug:811992): letters before a
  // separator compare with the letters after the other's separator.
  ['1b.fc17', '1b.fc17', 0], ['1b.fc17', '1.fc17', -1], ['1g.fc17', '1g.fc17', 0], ['1g.fc17', '1.fc17', 1],
];

// Whole EVRs as the lock stores them ("E:V-R", E left out when 0) and as rpm.vercmp reads them.
const EVRS: Case[] = [
  ['1:1.0-1', '2.0-1', 1], ['0:2.0-1', '2.0-1', 0], [':2.0-1', '2.0-1', 0], ['1:1.0-1', '2:0.1-1', -1],
  ['10:1.0', '9:2.0', 1], ['01:1.0', '1:1.0', 0], ['2.0-1', '2.0-2', -1], ['2.0-10', '2.0-9', 1],
  ['2.0~rc1-1', '2.0-1', -1], ['2.0~rc1-5', '2.0-1', -1], ['2.0-1.fc38', '2.0-1.fc39', -1],
  ['2.0-1.el9_2', '2.0-1.el9', 1], ['2.0-1', '2.0', 1], ['2.0', '2.0', 0], ['1.0^git1-1', '1.0-2', 1],
  // Only the last '-' starts the release: version "1.0-rc1", release "1".
  ['1.0-rc1-1', '1.0-1', 1], ['1.0-rc1-2', '1.0-rc1-1', 1],
  // An epoch is digits and ':' at the start; anything else is part of the version.
  ['a:1.0', '1.0', -1], ['1a:1.0', '1:1.0', -1],
  // Digit runs longer than a double holds.
  ['123456789012345678901', '123456789012345678902', -1], ['1.0-20231201123456789', '1.0-20231201123456788', 1],
];

/** The cases where compareRpmVersions is not what the table says, in either direction. */
function wrong(cases: Case[]): string[] {
  return cases.flatMap(([a, b, want]) =>
    [[a, b, want] as Case, [b, a, -want] as Case].filter(([x, y, w]) => compareRpmVersions(x, y) !== w).map(([x, y, w]) => `${x} vs ${y}: want ${w}, got ${compareRpmVersions(x, y)}`),
  );
}

describe('rpm version order', () => {
  it("orders rpm's own test cases (tests/rpmvercmp.at)", () => {
    expect(wrong(RPMVERCMP)).toEqual([]);
  });

  it('orders whole EVRs: epoch (none is 0), version, then release (a release is newer than none)', () => {
    expect(wrong(EVRS)).toEqual([]);
  });

  it('is the order of dnf and zypper distributions; an empty version has no order', () => {
    expect(compareDistributionVersions('fedora', '1:2.0-1', '3.0-1')).toBe(1);
    expect(compareDistributionVersions('opensuse', '2.0~rc1-1', '2.0-1')).toBe(-1);
    expect(compareDistributionVersions('centos', '2.0-1.el9', '2.0-1.el9')).toBe(0);
    expect(compareDistributionVersions('fedora', '', '1.0')).toBeNull();
  });

  it('agrees with rpm 4.18 (rpm.vercmp) on every case and 400 generated pairs', () => {
    const generated = generatedPairs(20261202, 400);
    const pairs: Pair[] = [...RPMVERCMP, ...EVRS].map(([a, b]) => [a, b] as Pair).concat(generated);
    const theirs = rpmOracle(pairs);
    const differ = pairs.flatMap(([a, b], i) => (compareRpmVersions(a, b) === theirs[i] ? [] : [`${a} vs ${b}: rpm says ${theirs[i]}, kiln ${compareRpmVersions(a, b)}`]));
    expect(differ).toEqual([]);
    // The generated pairs exercise all three answers, not one.
    const answers = new Set(theirs.slice(-generated.length));
    expect([...answers].sort()).toEqual([-1, 0, 1]);
  });
});
