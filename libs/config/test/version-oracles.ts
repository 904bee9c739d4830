/**
 * The real tools as oracles for rpm-version.ts and pacman-version.ts: rpm 4.18's rpm.vercmp() (Lua,
 * one `rpm --eval` for all pairs) and pacman's `vercmp` (one process per pair, all from one shell),
 * both installed by tools/setup.sh. Plus pairs of versions generated from a fixed seed: the same
 * pairs on every run, chosen near each other so that they differ in one place.
 */
import { spawnSync } from 'node:child_process';

export type Pair = [string, string];

/** mulberry32: a small seeded generator, so that the pairs are the same on every run. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Digits with leading zeros and past 2^53, letters, and every kind of separator either order
// treats specially ('~', '^', runs of them, '-' which splits off the release). Nothing that the
// shell, rpm's macro expansion or a Lua string literal would read: no '%', '"', '\', braces.
const NUMBERS = ['0', '1', '2', '9', '10', '01', '007', '20160101', '123456789012345678901'];
const LETTERS = ['a', 'b', 'z', 'rc', 'alpha', 'beta', 'git', 'pre', 'fc38', 'p', 'B'];
const SEPARATORS = ['.', '.', '.', '_', '+', '~', '^', '..', '-', ''];
const EPOCHS = ['0', '1', '2', '10', '01', ''];

/** `count` pairs of [epoch:]version[-release] strings: mostly one edit apart, some equal, some unrelated. */
export function generatedPairs(seed: number, count: number): Pair[] {
  const next = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const token = () => (next() < 0.6 ? pick(NUMBERS) : pick(LETTERS));
  const body = (): string[] => {
    const parts = [token()];
    for (let n = Math.floor(next() * 4); n > 0; n--) parts.push(pick(SEPARATORS), token());
    if (next() < 0.1) parts.unshift(pick(SEPARATORS));
    if (next() < 0.1) parts.push(pick(SEPARATORS));
    return parts;
  };
  const version = (): string[] => [
    ...(next() < 0.3 ? [`${pick(EPOCHS)}:`] : []),
    ...body(),
    ...(next() < 0.5 ? ['-', ...body()] : []),
  ];
  const edit = (parts: string[]): string[] => {
    const out = [...parts];
    const at = Math.floor(next() * out.length);
    const r = next();
    if (r < 0.5) out[at] = next() < 0.5 ? token() : pick(SEPARATORS);
    else if (r < 0.75) out.splice(at, 0, pick(SEPARATORS), token());
    else if (out.length > 1) out.splice(at, 1);
    else out.push(pick(SEPARATORS), token());
    return out;
  };
  const pairs: Pair[] = [];
  while (pairs.length < count) {
    const a = version();
    const r = next();
    const b = r < 0.7 ? edit(a) : r < 0.8 ? a : version();
    const pair: Pair = [a.join(''), b.join('')];
    if (pair[0] && pair[1]) pairs.push(pair);
  }
  return pairs;
}

/** Runs a tool printing -1, 0 or 1 per pair, the answers split by `end`. */
function run(command: string, args: string[], lines: number, end: RegExp): number[] {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error || r.status !== 0) throw new Error(`${command} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}; tools/setup.sh installs it`);
  const out = r.stdout.trim().split(end).filter(Boolean).map(Number);
  if (out.length !== lines || out.some((n) => ![-1, 0, 1].includes(n))) throw new Error(`${command}: expected ${lines} results, got: ${r.stdout.slice(0, 500)}`);
  return out;
}

/** rpm's own answers (rpm.vercmp: rpmverParse + rpmverCmp over whole EVRs), all from one rpm process. */
export function rpmOracle(pairs: Pair[]): number[] {
  for (const p of pairs) for (const v of p) if (/[%"\\{}\n]/.test(v)) throw new Error(`cannot pass ${v} through rpm --eval`);
  // print() in a macro appends to the expansion without a newline: end each answer with ','.
  const lua = pairs.map(([a, b]) => `print(rpm.vercmp("${a}", "${b}") .. ",")`);
  // One argument may hold 128 KiB (MAX_ARG_STRLEN): 1000 pairs to an --eval.
  const evals: string[] = [];
  for (let i = 0; i < lua.length; i += 1000) evals.push('--eval', `%{lua:\n${lua.slice(i, i + 1000).join('\n')}\n}`);
  return run('rpm', evals, pairs.length, /[,\s]+/);
}

/** pacman's own answers: `vercmp A B` (alpm_pkg_vercmp) per pair, the pairs as the shell's arguments. */
export function pacmanOracle(pairs: Pair[]): number[] {
  const script = 'while [ $# -gt 0 ]; do vercmp "$1" "$2"; shift 2; done';
  return run('sh', ['-c', script, 'sh', ...pairs.flat()], pairs.length, /\n/);
}
