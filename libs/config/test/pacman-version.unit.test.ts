/**
 * pacman's version order: the cases of pacman's own test suite (test/util/vercmptest.sh), where it
 * parts from rpm's, and pacman's `vercmp` itself over those and generated pairs.
 */
import { compareDistributionVersions, comparePacmanVersions, compareRpmVersions } from '../src';
import { generatedPairs, pacmanOracle, type Pair } from './version-oracles';

type Case = [string, string, number];

// test/util/vercmptest.sh, each case once: the suite also runs each reversed.
const VERCMPTEST: Case[] = [
  ['1.5.0', '1.5.0', 0], ['1.5.1', '1.5.0', 1], ['1.5.1', '1.5', 1],
  ['1.5.0-1', '1.5.0-1', 0], ['1.5.0-1', '1.5.0-2', -1], ['1.5.0-1', '1.5.1-1', -1], ['1.5.0-2', '1.5.1-1', -1],
  ['1.5-1', '1.5.1-1', -1], ['1.5-2', '1.5.1-1', -1], ['1.5-2', '1.5.1-2', -1],
  // A release counts only when both have one.
  ['1.5', '1.5-1', 0], ['1.5-1', '1.5', 0], ['1.1-1', '1.1', 0], ['1.0-1', '1.1', -1], ['1.1-1', '1.0', 1],
  ['1.5b-1', '1.5-1', -1], ['1.5b', '1.5', -1], ['1.5b-1', '1.5', -1], ['1.5b', '1.5.1', -1],
  // vercmp(8): 1.0a < 1.0alpha < 1.0b < 1.0beta < 1.0rc < 1.0.
  ['1.0a', '1.0alpha', -1], ['1.0alpha', '1.0b', -1], ['1.0b', '1.0beta', -1], ['1.0beta', '1.0rc', -1], ['1.0rc', '1.0', -1],
  ['1.5.a', '1.5', 1], ['1.5.b', '1.5.a', 1], ['1.5.1', '1.5.b', 1],
  ['1.5.b-1', '1.5.b', 0], ['1.5-1', '1.5.b', -1],
  // Same content, other separators.
  ['2.0', '2_0', 0], ['2.0_a', '2_0.a', 0], ['2.0a', '2.0.a', -1], ['2___a', '2_a', 1],
  // Epochs.
  ['0:1.0', '0:1.0', 0], ['0:1.0', '0:1.1', -1], ['1:1.0', '0:1.0', 1], ['1:1.0', '0:1.1', 1], ['1:1.0', '2:1.1', -1],
  ['1:1.0', '0:1.0-1', 1], ['1:1.0-1', '0:1.1-1', 1],
  ['0:1.0', '1.0', 0], ['0:1.0', '1.1', -1], ['0:1.1', '1.0', 1], ['1:1.0', '1.0', 1], ['1:1.0', '1.1', 1], ['1:1.1', '1.1', 1],
];

// Where pacman and rpm part: [a, b, pacman's answer, rpm's answer].
const NOT_RPM: [string, string, number, number][] = [
  ['1.0~rc1', '1.0', 1, -1], // '~' is a separator to pacman
  ['1.0^1', '1.0.1', 0, -1], // so is '^'
  ['1.0a', '1.0', -1, 1], // leftover letters lose to the end
  ['2___a', '2_a', 1, 0], // separators are counted
  ['1.0-1', '1.0', 0, 1], // a release counts only when both have one
];

function wrong(cases: Case[]): string[] {
  return cases.flatMap(([a, b, want]) =>
    [[a, b, want] as Case, [b, a, -want] as Case].filter(([x, y, w]) => comparePacmanVersions(x, y) !== w).map(([x, y, w]) => `${x} vs ${y}: want ${w}, got ${comparePacmanVersions(x, y)}`),
  );
}

describe('pacman version order', () => {
  it("orders pacman's own test cases (test/util/vercmptest.sh)", () => {
    expect(wrong(VERCMPTEST)).toEqual([]);
  });

  it("parts from rpm's order where pacman does", () => {
    expect(wrong(NOT_RPM.map(([a, b, pacman]) => [a, b, pacman]))).toEqual([]);
    expect(NOT_RPM.map(([a, b]) => compareRpmVersions(a, b))).toEqual(NOT_RPM.map(([, , , rpm]) => rpm));
  });

  it('is the order of Arch', () => {
    expect(compareDistributionVersions('arch', '1:2.0-1', '3.0-1')).toBe(1);
    expect(compareDistributionVersions('arch', '6.12.1.arch1-1', '6.12.arch1-1')).toBe(1);
  });

  it("agrees with pacman's vercmp on every case and 200 generated pairs", () => {
    const generated = generatedPairs(20261203, 200);
    const pairs: Pair[] = [...VERCMPTEST, ...NOT_RPM].map(([a, b]) => [a, b] as Pair).concat(generated);
    const theirs = pacmanOracle(pairs);
    const differ = pairs.flatMap(([a, b], i) => (comparePacmanVersions(a, b) === theirs[i] ? [] : [`${a} vs ${b}: vercmp says ${theirs[i]}, kiln ${comparePacmanVersions(a, b)}`]));
    expect(differ).toEqual([]);
    expect([...new Set(theirs.slice(-generated.length))].sort()).toEqual([-1, 0, 1]);
  });
});
