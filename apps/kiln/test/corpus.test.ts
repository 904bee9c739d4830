/**
 * The bad-input corpus (issue 14): every case under corpus/<category>/<case>/ is a project given
 * to the built CLI, and must be refused the way the README promises: exit code 1, exactly the
 * expected line on stderr (after a build's progress lines; no stack trace), and nothing created, changed or removed outside the
 * project's output directory, neither in the project nor beside it.
 *
 * Each case runs in a fresh copy inside its own temp directory, next to a sentinel directory that
 * is also the working directory of kiln (so that messages name files by absolute path, and a
 * write to the working directory shows) and to the HOME kiln is given (a write to its caches shows). Cases git cannot hold (FIFOs, huge files, 500 presets)
 * are made at test time by corpus-generated.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GENERATED, type GeneratedCase } from './corpus-generated';
import { kiln, type Result } from './run-kiln';

const CORPUS = path.join(__dirname, 'corpus');
/** Cases run this many at a time: the machine is shared, and each case is a short node process. */
const CONCURRENCY = 4;
/** No case may take longer: a hang (a FIFO read) or a quadratic parse fails the case. */
const CASE_TIMEOUT_MS = 60_000;

interface Case {
  id: string;
  command: string[];
  expect: string;
  why: string;
  /** The committed directory, copied for each run (absent for a generated case without one). */
  source?: string;
  make?: GeneratedCase['make'];
  /**
   * Symlinks to devices (`/dev/zero`), made in the copy at test time: committed, they would be
   * read endlessly by any tool that hashes the repository's files (Nx's file hasher does).
   */
  links?: Record<string, string>;
}

function committedCases(): Case[] {
  const out: Case[] = [];
  for (const category of fs.readdirSync(CORPUS).sort()) {
    const dir = path.join(CORPUS, category);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      const source = path.join(dir, name);
      const spec = JSON.parse(fs.readFileSync(path.join(source, 'case.json'), 'utf8')) as Omit<Case, 'id' | 'source'>;
      out.push({ id: `${category}/${name}`, command: spec.command, expect: spec.expect, why: spec.why, links: spec.links, source });
    }
  }
  return out;
}

const CASES: Case[] = [
  ...committedCases(),
  ...GENERATED.map((g) => ({ id: `${g.category}/${g.name}`, command: g.command ?? ['summary'], expect: g.expect, why: g.why, make: g.make })),
];

/** What a tree holds, by relative path: type, mode, size, mtime and link target. FIFOs are never opened. */
function snapshot(root: string, skip: (p: string) => boolean): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      if (skip(p)) continue;
      const st = fs.lstatSync(p);
      const kind = st.isSymbolicLink() ? `l:${fs.readlinkSync(p)}` : st.isDirectory() ? 'd' : st.isFile() ? 'f' : 'o';
      // A directory's own size and mtime change with any entry made in it (mkosi.output/, which a
      // build may create); its entries are compared one by one instead.
      out.set(path.relative(root, p), kind === 'd' ? `d:${st.mode}` : `${kind}:${st.mode}:${st.size}:${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

function differences(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [p, v] of before) if (after.get(p) !== v) out.push(after.has(p) ? `changed ${p}` : `removed ${p}`);
  for (const p of after.keys()) if (!before.has(p)) out.push(`created ${p}`);
  return out;
}

interface Outcome {
  result: Result;
  expected: string;
  changes: string[];
  ms: number;
}

async function runCase(c: Case): Promise<Outcome> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-corpus-'));
  try {
    const dir = path.join(tmp, 'project');
    const sentinel = path.join(tmp, 'sentinel');
    fs.mkdirSync(sentinel);
    fs.writeFileSync(path.join(sentinel, 'keep'), 'untouched\n');
    // kiln's own caches (~/.cache/kiln) are in the temp directory too, and so in the comparison.
    const home = path.join(tmp, 'home');
    fs.mkdirSync(home);
    if (c.source) fs.cpSync(c.source, dir, { recursive: true, verbatimSymlinks: true });
    else fs.mkdirSync(dir);
    fs.rmSync(path.join(dir, 'case.json'), { force: true });
    for (const [link, target] of Object.entries(c.links ?? {})) {
      fs.mkdirSync(path.dirname(path.join(dir, link)), { recursive: true });
      fs.symlinkSync(target, path.join(dir, link));
    }
    if (c.make) await c.make(dir);

    // The output directory is the one place a refused input may leave something (none do today).
    const output = path.join(dir, 'mkosi.output');
    const before = snapshot(tmp, (p) => p === output);
    const started = Date.now();
    const result = await kiln([...c.command, '-C', dir], { cwd: sentinel, timeoutMs: CASE_TIMEOUT_MS, env: { HOME: home, XDG_CACHE_HOME: path.join(home, '.cache') } });
    const ms = Date.now() - started;
    const changes = differences(before, snapshot(tmp, (p) => p === output));
    return { result, expected: c.expect.split('{dir}').join(dir), changes, ms };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** A build's progress line: a preset's name, then what it does (an error starts with a path or "kiln:"). */
const PROGRESS = /^(?!kiln:)[A-Za-z0-9_][\w.+-]*: /;
const WARNING = /^\S+:\d+: warning: /;

const outcomes = new Map<string, Outcome>();

beforeAll(async () => {
  const queue = [...CASES];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) outcomes.set(c.id, await runCase(c));
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}, 15 * 60_000);

describe('the bad-input corpus', () => {
  it('holds at least 150 cases, each saying why', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(150);
    expect(CASES.filter((c) => !c.why || !c.expect).map((c) => c.id)).toEqual([]);
  });

  it.each(CASES.map((c) => [c.id, c] as const))('%s is refused with its one-line error, touching nothing', (_id, c) => {
    const o = outcomes.get(c.id)!;
    // A build prints its progress lines ("proj: unlocked: ...") on stderr before it meets the
    // input, and the reading's warnings (a value mkosi reads and the build refuses is warned about
    // when read); they are not part of the error, which is the one line after them.
    const lines = o.result.stderr.split('\n');
    const progress = c.command[0] === 'build' ? lines.findIndex((l) => !PROGRESS.test(l) && !WARNING.test(l)) : 0;
    const stderr = lines.slice(Math.max(progress, 0)).join('\n');
    // One object compared whole, so a failure shows every difference at once.
    expect({ code: o.result.code, signal: o.result.signal, stderr, changes: o.changes }).toEqual({
      code: 1,
      signal: null,
      stderr: `${o.expected}\n`,
      changes: [],
    });
    expect(o.result.stderr).not.toMatch(/^\s+at /m);
  });
});
