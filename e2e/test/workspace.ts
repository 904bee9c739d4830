/**
 * What the e2e suites share: the repository's nx binary, an Nx environment of a temp workspace,
 * setting one up, running nx in it, writing its files and reading the edges of its graph.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

type Env = Record<string, string | undefined>;

export const repo = path.resolve(__dirname, '../..');
export const nxBin = path.join(repo, 'node_modules/nx/dist/bin/nx.js');

/** No daemon, no cloud, no prompts; cache and workspace data inside the temp workspace. */
export function nxEnv(ws: string): Env {
  return {
    ...process.env,
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    NX_INTERACTIVE: 'false',
    NX_CACHE_DIRECTORY: path.join(ws, '.nx-cache'),
    NX_WORKSPACE_DATA_DIRECTORY: path.join(ws, '.nx-data'),
  };
}

/**
 * Makes `ws` an Nx workspace using this repository's node_modules (so @kiln/nx is the one under
 * test) and commits it to a fresh git repository. Nx's cache and workspace data, outputs and
 * mkosi.local.conf are gitignored (the daemon would otherwise watch its own log), plus `ignore`.
 */
export function initWorkspace(ws: string, name: string, ignore: string[] = [], nxJson: Record<string, unknown> = {}): void {
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(ws, 'node_modules'));
  fs.writeFileSync(path.join(ws, 'package.json'), `{ "name": "${name}", "private": true }\n`);
  fs.writeFileSync(path.join(ws, 'nx.json'), `${JSON.stringify({ plugins: ['@kiln/nx'], ...nxJson })}\n`);
  fs.writeFileSync(path.join(ws, '.gitignore'), ['node_modules', 'mkosi.output/', '.nx-cache/', '.nx-data/', 'mkosi.local.conf', ...ignore].join('\n') + '\n');
  for (const args of [['init', '-q'], ['add', '-A'], ['commit', '-qm', 'initial']]) gitIn(ws, ...args);
}

/** git in `ws` as a fixed e2e user; throws with its output when it fails. */
export function gitIn(ws: string, ...args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.email=e2e@kiln', '-c', 'user.name=e2e', ...args], { cwd: ws, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A suite's temp workspace (named `prefix`XXXXXX) and its Nx environment, with the daemon on or off. */
export function tempWorkspace(prefix: string, daemon: boolean): { ws: string; env: Env } {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { ws, env: { ...nxEnv(ws), NX_DAEMON: daemon ? 'true' : 'false' } };
}

/** nx ARGS in `ws`; its stdout, or an error with its output when it fails. */
export function runNx(ws: string, env: Env, args: string[]): string {
  const r = spawnSync(process.execPath, [nxBin, ...args], { cwd: ws, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nx ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * The demo (examples/system) copied to `sys` in the shape the cache suites rebuild many times: its
 * main image a tar with no packages of its own and no tools tree (the disk, its tools tree and its
 * boot have suites of their own: nx-tools-cache, libs/engine/test/demo.test.ts), every preset with
 * Incremental=yes layers in `layers`, so that a rebuild of system is its base tree and extra tree.
 */
export function copyDemoAsTar(sys: string, layers: string): void {
  fs.cpSync(path.join(repo, 'examples/system'), sys, { recursive: true, filter: (s) => !s.includes('mkosi.output') });
  const conf = path.join(sys, 'mkosi.conf');
  fs.writeFileSync(
    conf,
    fs.readFileSync(conf, 'utf8').replace(/^Format=disk$/m, 'Format=tar').replace(/^Packages=\n(\s+\S+\n)+/m, '').replace(/^(Bootable|KernelCommandLine|ToolsTree)=.*\n/gm, '') +
      `\n[Build]\nIncremental=yes\nCacheDirectory=${layers}\n`,
  );
}

/** Writes `text` to `dir`/`rel`, making the directories on the way. */
export function writeIn(dir: string, rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), text);
}

/** Each project's dependencies in Nx's graph (`nx graph --file`), as sorted names, for the projects named `prefix`*. */
export function graphEdges(ws: string, env: Env, prefix: string): Record<string, string[]> {
  const file = path.join(ws, '.nx-data', `graph-${Date.now()}.json`);
  runNx(ws, env, ['graph', `--file=${file}`]);
  const graph = JSON.parse(fs.readFileSync(file, 'utf8')).graph as { dependencies: Record<string, { target: string }[]> };
  return Object.fromEntries(
    Object.entries(graph.dependencies)
      .filter(([source]) => source.startsWith(prefix))
      .map(([source, deps]) => [source, deps.map((d) => d.target).sort()]),
  );
}

/** Stops the workspace's daemon (when the suite ran with one) and removes the workspace. */
export function removeWorkspace(ws: string, env: Env, daemon: boolean): void {
  if (daemon) spawnSync(process.execPath, [nxBin, 'daemon', '--stop'], { cwd: ws, env, encoding: 'utf8' });
  fs.rmSync(ws, { recursive: true, force: true });
}
