/** Test helpers: the built kiln CLI as a user runs it, temp projects, and archive inspection. */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const repo = path.resolve(__dirname, '../../..');
const bin = path.join(repo, 'apps/kiln/dist/main.js');

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function kiln(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: opts.cwd ?? repo, env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Starts kiln without waiting, for interrupting it (its own process group, so a kill reaches its tools). */
export function startKiln(args: string[], cwd: string) {
  const child = spawn(process.execPath, [bin, ...args], { cwd, detached: true });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<Result>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: '', stderr })));
  return { child, done };
}

/** Every temp directory a test made: image trees are large, so each suite removes them afterwards. */
const temps: string[] = [];

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export function tempProject(files: Record<string, string | { text: string; mode: number } | { symlink: string }>, name = 'proj'): string {
  const root = path.join(tempDir('kiln-engine-'), name);
  fs.mkdirSync(root, { recursive: true });
  for (const [rel, spec] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof spec === 'string') fs.writeFileSync(p, spec);
    else if ('symlink' in spec) fs.symlinkSync(spec.symlink, p);
    else fs.writeFileSync(p, spec.text, { mode: spec.mode });
  }
  return root;
}

export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Unpacks a tar or cpio output into a fresh directory and returns it. */
export function unpack(archive: string): string {
  const dir = tempDir('kiln-unpack-');
  const cmd = archive.includes('.cpio')
    ? `zstd -dc "${archive}" | (cd "${dir}" && cpio -idm --quiet --no-absolute-filenames)`
    : `tar -C "${dir}" -xpf "${archive}" --numeric-owner`;
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`unpacking ${archive}: ${r.stderr}`);
  return dir;
}

/** name -> version of what dpkg says is installed in a tree. */
export function installed(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const para of fs.readFileSync(path.join(root, 'var/lib/dpkg/status'), 'utf8').split('\n\n')) {
    const field = (f: string) => para.match(new RegExp(`^${f}: (.*)$`, 'm'))?.[1];
    if (field('Status')?.endsWith(' installed')) out.set(field('Package') as string, field('Version') as string);
  }
  return out;
}

export function waitFor(file: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (fs.existsSync(file)) resolve();
      else if (Date.now() > until) reject(new Error(`${file} did not appear within ${timeoutMs} ms`));
      else setTimeout(tick, 200);
    };
    tick();
  });
}

/**
 * Runs the CLI with exactly `env` (nothing of the test's own environment) and the given umask,
 * which only a shell can set for a child, as the builder's login shell would.
 */
export function kilnIn(args: string[], opts: { cwd?: string; env: Record<string, string>; umask: string }): Promise<Result> {
  const child = spawn('/bin/sh', ['-c', `umask ${opts.umask} && exec "$0" "$@"`, process.execPath, bin, ...args], { cwd: opts.cwd ?? repo, env: opts.env });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, ...out })));
}
