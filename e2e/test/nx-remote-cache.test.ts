/**
 * A team's remote cache, for real: Nx's self-hosted cache API served on 127.0.0.1 by the suite's
 * fixture (tools/nx-cache-server, tested on its own in nx-cache-server.test.ts), the demo
 * (examples/system, with its trixie tools tree and bootable disk) and the real `nx`.
 *
 *  1. Runner A (continuous integration of main: read-write token, daemon off) builds the demo and
 *     uploads every preset.
 *  2. A fresh clone B, as a teammate's machine: another path, another HOME, umask 002, other file
 *     mtimes, an empty Nx cache and the daemon on (the users' default). `nx run system:image`
 *     restores every preset from the remote cache, bit-identical to A's outputs, and no package
 *     manager or sandbox runs (wrappers on KILN_TOOLS_PATH record every call; only the version
 *     questions of the tool identity are allowed), and B's HOME gets no package cache.
 *  3. A pull request's CI (read-only token) changes system's extra tree: system is rebuilt, its
 *     upload is refused with 403, Nx carries on, the run succeeds and the server stores nothing.
 *
 * Cost: one build of the demo (A) and one rebuild of system's last steps (3: Incremental=yes, so
 * system starts from the package layer A's build left). B builds nothing. With the machine's
 * layers kept from an earlier run, A starts every preset from its layer too.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { testLayers } from '../../libs/engine/test/test-cache';
import { type CacheServer, startCacheServer } from './cache-server';
import { gitIn, initWorkspace, nxBin, nxEnv, removeWorkspace, repo } from './workspace';

jest.setTimeout(1_800_000);

type Env = Record<string, string | undefined>;
type Task = { taskId: string; projectName: string; hash: string; cacheStatus: string; status: number };

const top = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-remote-'));
const wsA = path.join(top, 'a');
const wsB = path.join(top, 'elsewhere', 'teammate', 'b');
/**
 * The package layers (Incremental=yes, no cache input: outputs are the same bytes with or without
 * them) are kept per machine, like the test tools tree: a layer is keyed by everything installed
 * into it, so a kept one is reused only where it is exact, and a second run of this suite on a
 * machine installs nothing.
 */
const layers = testLayers();
const store = path.join(top, 'store');
const homeB = path.join(top, 'home-b');
const wrappers = path.join(top, 'wrappers');
const calls = path.join(top, 'tool-calls.log');
const PRESETS = ['system', 'system-base', 'system-initrd', 'system-tools'];

let server: CacheServer;
const remote = (token: string): Env => ({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: server.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token });

function envA(): Env {
  const env = { ...nxEnv(wsA), ...remote('main-token') };
  delete env.SOURCE_DATE_EPOCH;
  return env;
}

/** nx in `ws` (through sh, for the umask); its output, or an error with it. */
function nx(ws: string, env: Env, args: string[], umask = '022'): string {
  const r = spawnSync('sh', ['-c', `umask ${umask} && exec "$0" "$@"`, process.execPath, nxBin, ...args], { cwd: ws, env, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`nx ${args.join(' ')} in ${ws} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}\n${r.stderr}`;
}
const tasks = (ws: string): Task[] => (JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache', 'run.json'), 'utf8')) as { tasks: Task[] }).tasks;
const statuses = (ws: string) => Object.fromEntries(tasks(ws).map((t) => [t.projectName, t.cacheStatus]));
const entries = () => fs.readdirSync(store).filter((f) => !f.startsWith('.')).sort();

/** Every file, directory and symlink under the presets' cached outputs: relative path -> what it is (content hash, link target). */
function outputs(ws: string, env: Env): Record<string, string> {
  const found: Record<string, string> = {};
  const visit = (abs: string) => {
    const st = fs.lstatSync(abs);
    const rel = path.relative(ws, abs);
    if (st.isSymbolicLink()) found[rel] = `link ${fs.readlinkSync(abs)}`;
    else if (st.isDirectory()) {
      found[rel] = 'dir';
      for (const name of fs.readdirSync(abs)) visit(path.join(abs, name));
    } else found[rel] = `file ${st.mode & 0o111 ? 'x' : '-'} ${createHash('sha256').update(fs.readFileSync(abs)).digest('hex')}`;
  };
  for (const p of PRESETS) {
    const project = JSON.parse(nx(ws, env, ['show', 'project', p, '--json']).replace(/^[^{]*/, '').replace(/[^}]*$/, '')) as { root: string; targets: { image: { outputs: string[] } } };
    for (const o of project.targets.image.outputs) {
      const abs = path.join(ws, o.replace('{workspaceRoot}', '').replace('{projectRoot}', project.root));
      if (fs.existsSync(abs)) visit(abs);
      // The manifest's signature is written only by a signed build (KILN_SIGNING_KEY).
      else if (!abs.endsWith('.manifest.json.sig')) found[path.relative(ws, abs)] = 'missing';
    }
  }
  return found;
}

beforeAll(async () => {
  server = await startCacheServer(store, ['rw:main-token', 'ro:pull-request-token']);
  fs.mkdirSync(wsA, { recursive: true });
  fs.cpSync(path.join(repo, 'examples/system'), path.join(wsA, 'system'), { recursive: true, filter: (s) => !s.includes('mkosi.output') });
  // The demo as it is, plus its package layers, so that the pull request's rebuild of system (3.)
  // starts from A's layer instead of installing the kernel again.
  fs.appendFileSync(path.join(wsA, 'system/mkosi.conf'), `\n[Build]\nIncremental=yes\nCacheDirectory=${layers}\n`);
  initWorkspace(wsA, 'e2e-remote');
  // Wrappers that record every call of the package managers and the sandbox, then run the real tool.
  fs.mkdirSync(wrappers);
  for (const tool of ['mmdebstrap', 'apt', 'apt-get', 'dpkg', 'bwrap']) {
    const real = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    fs.writeFileSync(path.join(wrappers, tool), `#!/bin/sh\necho "${tool} $*" >> ${calls}\nexec ${real} "$@"\n`, { mode: 0o755 });
  }
}, 120_000);

afterAll(async () => {
  await server?.stop();
  removeWorkspace(wsB, { ...nxEnv(wsB), HOME: homeB, NX_DAEMON: 'true' }, true);
  removeWorkspace(wsA, envA(), false);
  fs.rmSync(top, { recursive: true, force: true });
});

describe('a remote cache shared by a team', () => {
  let uploaded: string[];
  let built: Record<string, string>;

  it('runner A builds the demo and uploads every preset', async () => {
    nx(wsA, envA(), ['run', 'system:image', '--outputStyle=static']);
    expect(statuses(wsA)).toEqual(Object.fromEntries(PRESETS.map((p) => [p, 'cache-miss'])));
    uploaded = tasks(wsA)
      .map((t) => t.hash)
      .sort();
    built = outputs(wsA, envA());
    expect(Object.values(built)).not.toContain('missing');
    expect(entries()).toEqual(uploaded);
    // The server's log lines arrive once nx has exited (spawnSync holds jest's event loop till then).
    for (const hash of uploaded) expect(await server.waitFor(new RegExp(`^PUT ${hash} `))).toMatch(new RegExp(`^PUT ${hash} 200 [1-9]\\d*$`));
  });

  it('a fresh clone elsewhere (another HOME, umask 002, other mtimes, empty cache, daemon on) restores every preset, bit-identical, running no package manager', () => {
    fs.mkdirSync(path.dirname(wsB), { recursive: true });
    fs.mkdirSync(homeB);
    gitIn(path.dirname(wsB), 'clone', '-q', wsA, wsB);
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(wsB, 'node_modules'));
    // Every checked-out file and directory with an mtime of 2020, unlike A's.
    spawnSync('sh', ['-c', 'find . -path ./.git -prune -o -path ./node_modules -prune -o -exec touch -h -d @1600000000 {} +'], { cwd: wsB });
    const envB: Env = { ...nxEnv(wsB), ...remote('main-token'), NX_DAEMON: 'true', HOME: homeB, KILN_TOOLS_PATH: wrappers, PATH: `${wrappers}:${process.env.PATH}` };
    delete envB.SOURCE_DATE_EPOCH;
    delete envB.XDG_CACHE_HOME;

    nx(wsB, envB, ['run', 'system:image', '--outputStyle=static'], '002');
    expect(statuses(wsB)).toEqual(Object.fromEntries(PRESETS.map((p) => [p, 'remote-cache-hit'])));
    expect(
      tasks(wsB)
        .map((t) => t.hash)
        .sort(),
    ).toEqual(uploaded);
    expect(outputs(wsB, envB)).toEqual(built);
    // No install, no sandbox: only questions (the tool identity's versions, the host's architecture).
    const ran = fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').split('\n').filter(Boolean) : [];
    expect(ran.filter((l) => !/^\S+ --version$|^dpkg --print-architecture$/.test(l))).toEqual([]);
    // B's own package cache (its HOME's) was never made. (The machine's is not compared: other
    // suites may be building beside this one.)
    expect(fs.existsSync(path.join(homeB, '.cache/kiln/packages'))).toBe(false);
    // Nothing to upload: every entry came from the server.
    expect(entries()).toEqual(uploaded);
  });

  it("a pull request's CI with the read-only token: its upload is refused, the build succeeds, nothing is stored", async () => {
    fs.appendFileSync(path.join(wsA, 'system/mkosi.extra/etc/motd'), 'A change under review.\n');
    gitIn(wsA, 'commit', '-qam', 'a pull request');
    const log = nx(wsA, { ...envA(), ...remote('pull-request-token') }, ['run', 'system:image', '--outputStyle=static']);
    expect(statuses(wsA)).toEqual({ system: 'cache-miss', 'system-base': 'local-cache-hit', 'system-initrd': 'local-cache-hit', 'system-tools': 'local-cache-hit' });
    expect(tasks(wsA).every((t) => t.status === 0)).toBe(true);
    expect(log).toMatch(/system: layer: starting from /);
    const system = tasks(wsA).find((t) => t.projectName === 'system') as Task;
    expect(await server.waitFor(new RegExp(`^PUT ${system.hash} `))).toMatch(new RegExp(`^PUT ${system.hash} 403 [1-9]\\d*$`));
    expect(entries()).toEqual(uploaded);
    expect(fs.readdirSync(path.join(store, '.incoming'))).toEqual([]);
  });
});
