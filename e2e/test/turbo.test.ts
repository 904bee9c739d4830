/**
 * Turborepo: the real `turbo` binary and the `turborepo-remote-cache` server (npm; local storage,
 * body limit raised for images) on a temp git workspace holding examples/system as three small
 * presets (base: directory; initrd: cpio; system: tar on base, no packages of its own; Debian
 * bookworm from the mirror, Incremental=yes layers). `kiln turbo -C system` writes the packages;
 * each run is the root script (`kiln turbo digests && turbo run image`); hits and misses are read
 * from turbo's run summary.
 *
 * Proves: a build; a second run all hits; a config line of base misses base and system (which
 * depends on it) only; an extra file's mode and a gitignored mkosi.local.conf miss system only;
 * turbo run without the digests step fails instead of caching under a stale fingerprint; a fresh
 * clone at another path with an empty local cache restores every image from the remote server,
 * bit-identical, building nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { testLayers } from '../../libs/engine/test/test-cache';
import { copyDemoAsTar, gitIn, repo } from './workspace';

jest.setTimeout(1_800_000);

const turboBin = path.join(repo, 'node_modules/turbo/bin/turbo');
const kilnBin = path.join(repo, 'apps/kiln/dist/main.js');
const serverBin = path.join(repo, 'node_modules/turborepo-remote-cache/dist/cli.js');
const TOKEN = 'kiln-e2e-token';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-turbo-'));
const ws = path.join(tmp, 'ws');
const sys = path.join(ws, 'system');
const out = path.join(sys, 'mkosi.output');
const layers = testLayers();

let server: ChildProcess | undefined;
let api = '';

/** Starts the cache server on a free loopback port and resolves with its URL once it listens (from its log). */
function startServer(): Promise<string> {
  const child = spawn(process.execPath, [serverBin], {
    env: { ...process.env, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', STORAGE_PROVIDER: 'local', STORAGE_PATH: path.join(tmp, 'remote'), STORAGE_PATH_USE_TMP_FOLDER: 'false', TURBO_TOKEN: TOKEN, BODY_LIMIT: String(2 * 1024 ** 3), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  return new Promise((resolve, reject) => {
    let log = '';
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        child.stdout!.off('data', onData);
        child.stdout!.resume(); // keep draining its log
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    child.on('exit', (code) => reject(new Error(`turborepo-remote-cache exited (${code}) before listening:\n${log}`)));
  });
}

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1', TURBO_API: api, TURBO_TOKEN: TOKEN, TURBO_TEAM: 'kiln', TURBO_UI: 'false' };
  delete e.SOURCE_DATE_EPOCH;
  return e;
}

function run(cwd: string, cmd: string, args: string[]) {
  return spawnSync(cmd, args, { cwd, env: env(), encoding: 'utf8' });
}

function check(r: ReturnType<typeof run>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const tally = { runs: 0, builds: 0 };
/** Where each hit of the last image() run came from (turbo's LOCAL or REMOTE cache). */
let sources: Record<string, string> = {};

/** turbo run image in `root` (after kiln turbo digests unless told not to): each package's verdict. */
function image(root = ws, digests = true): Record<string, 'hit' | 'miss'> {
  if (digests) check(run(root, process.execPath, [kilnBin, 'turbo', 'digests']), 'kiln turbo digests');
  const runs = path.join(root, '.turbo', 'runs');
  fs.rmSync(runs, { recursive: true, force: true });
  check(run(root, process.execPath, [turboBin, 'run', 'image', '--summarize', '--output-logs=new-only']), 'turbo run image');
  const [summary] = fs.readdirSync(runs);
  const tasks = (JSON.parse(fs.readFileSync(path.join(runs, summary), 'utf8')) as { tasks: { package: string; cache: { status: string; source?: string } }[] }).tasks;
  sources = Object.fromEntries(tasks.map((t) => [t.package.replace('@kiln-turbo/', ''), t.cache.source ?? '']));
  const verdict = Object.fromEntries(tasks.map((t) => [t.package.replace('@kiln-turbo/', ''), t.cache.status === 'HIT' ? 'hit' : 'miss'] as const));
  tally.runs++;
  tally.builds += Object.values(verdict).filter((v) => v === 'miss').length;
  return verdict;
}

const hashes = (dir: string) =>
  Object.fromEntries(
    ['base.tar.zst', 'initrd.cpio.zst', 'system.tar.zst', 'base.manifest.json', 'initrd.manifest.json', 'system.manifest.json'].map((f) => [
      f,
      createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex'),
    ]),
  );

const ALL_HIT = { system: 'hit', 'system-base': 'hit', 'system-initrd': 'hit' };
const ONLY_SYSTEM = { system: 'miss', 'system-base': 'hit', 'system-initrd': 'hit' };
const started = Date.now();

beforeAll(async () => {
  api = await startServer();
  fs.mkdirSync(ws);
  copyDemoAsTar(sys, layers);
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(ws, 'node_modules'));
  fs.writeFileSync(path.join(ws, 'package.json'), `${JSON.stringify({ name: 'e2e-turbo', private: true, packageManager: 'npm@10.0.0' }, null, 2)}\n`);
  fs.writeFileSync(path.join(ws, '.gitignore'), ['node_modules', '.turbo/', 'mkosi.output/', 'mkosi.local.conf'].join('\n') + '\n');
  check(run(ws, process.execPath, [kilnBin, 'turbo', '-C', 'system']), 'kiln turbo -C system');
  for (const args of [['init', '-q'], ['add', '-A'], ['commit', '-qm', 'initial']]) gitIn(ws, ...args);
});

afterAll(() => {
  console.log(`turbo e2e: ${JSON.stringify(tally)} in ${Math.round((Date.now() - started) / 1000)} s`);
  server?.kill();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('kiln turbo', () => {
  it('writes what it wrote before when run again (idempotent), and the packages turbo sees', () => {
    const again = check(run(ws, process.execPath, [kilnBin, 'turbo', '-C', 'system']), 'kiln turbo again');
    expect(again).toBe('');
    expect(gitIn(ws, 'status', '--porcelain')).toBe('');
    const pkg = JSON.parse(fs.readFileSync(path.join(ws, 'kiln.turbo/system/package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['@kiln-turbo/system-base', '@kiln-turbo/system-initrd']);
  });

  let built: Record<string, string>;

  it('builds the three presets', () => {
    expect(image()).toEqual({ system: 'miss', 'system-base': 'miss', 'system-initrd': 'miss' });
    built = hashes(out);
  });

  it('a second run is all hits', () => {
    expect(image()).toEqual(ALL_HIT);
  });

  it('a config line of base misses base and system, which depends on it, only', () => {
    fs.appendFileSync(path.join(sys, 'mkosi.images/base/mkosi.conf'), '\n[Content]\nHostname=turbo-base\n');
    expect(image()).toEqual({ system: 'miss', 'system-base': 'miss', 'system-initrd': 'hit' });
  });

  it("an extra file's mode (git's executable bit) misses system only", () => {
    fs.chmodSync(path.join(sys, 'mkosi.extra/etc/motd'), 0o755);
    expect(image()).toEqual(ONLY_SYSTEM);
  });

  it('turbo run without kiln turbo digests fails (kiln turbo check) instead of caching a stale fingerprint', () => {
    fs.chmodSync(path.join(sys, 'mkosi.extra/etc/motd'), 0o644);
    // turbo would hash the kiln.digest of the previous run (mode 0755) and hit: no task runs, so
    // nothing inside turbo can notice (why the root script runs the digests first). A task that
    // does run (here forced) checks its kiln.digest and fails rather than cache this build under
    // the 0755 fingerprint.
    const r = run(ws, process.execPath, [turboBin, 'run', 'image', '--filter=@kiln-turbo/system', '--only', '--force', '--output-logs=errors-only']);
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain('run `kiln turbo digests` before `turbo run`');
  });

  it('a gitignored mkosi.local.conf created misses system only; deleted, all hit', () => {
    fs.chmodSync(path.join(sys, 'mkosi.extra/etc/motd'), 0o755);
    expect(image()).toEqual(ALL_HIT); // back to the state cached two runs ago
    fs.writeFileSync(path.join(sys, 'mkosi.local.conf'), '[Content]\nHostname=from-local-conf\n');
    expect(image()).toEqual(ONLY_SYSTEM);
    fs.rmSync(path.join(sys, 'mkosi.local.conf'));
    expect(image()).toEqual(ALL_HIT);
  });

  it('a fresh clone at another path, with an empty local cache, restores every image from the remote server', () => {
    gitIn(ws, 'add', '-A');
    gitIn(ws, 'commit', '-qm', 'mutations');
    expect(image()).toEqual(ALL_HIT);
    const now = hashes(out);
    const clone = path.join(tmp, 'other', 'place', 'checkout');
    check(run(tmp, 'git', ['clone', '-q', ws, clone]), 'git clone');
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(clone, 'node_modules'));
    expect(fs.existsSync(path.join(clone, '.turbo'))).toBe(false);
    expect(image(clone)).toEqual(ALL_HIT);
    expect(sources).toEqual({ system: 'REMOTE', 'system-base': 'REMOTE', 'system-initrd': 'REMOTE' });
    expect(hashes(path.join(clone, 'system/mkosi.output'))).toEqual(now);
    // What the first build made, for presets whose inputs are as then (initrd never changed).
    expect(now['initrd.cpio.zst']).toBe(built['initrd.cpio.zst']);
  });
});
